import { hashPassword } from './password.js';

const USAGE = `Usage: hash-password [--help]

Reads a password from stdin and prints its scrypt hash, for USERS_FILE ("password": …) or a
*_USERS entry (name:<hash>). On a terminal it asks for the password and does not echo it;
otherwise it hashes everything stdin holds, less one trailing newline, so both
"printf 'secret' | hash-password" and "echo secret | hash-password" work.

The password is read from stdin rather than the command line to keep it out of shell history
and ps. Exit codes: 0 hash printed, 2 usage error or empty password, 130 interrupted.
`;

const ENTER = new Set(['\r', '\n', '\u0004']);
const ERASE = new Set(['\u007f', '\b']);

/** Reads one line from a terminal in raw mode, so nothing typed is echoed. */
function readHidden(input: NodeJS.ReadStream): Promise<string> {
  process.stderr.write('password: ');
  input.setRawMode(true);
  input.setEncoding('utf8');
  return new Promise((resolvePassword) => {
    let typed = '';
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\u0003') {
          input.setRawMode(false);
          process.stderr.write('\n');
          process.exit(130);
        } else if (ENTER.has(char)) {
          input.off('data', onData);
          input.setRawMode(false);
          input.pause();
          process.stderr.write('\n');
          resolvePassword(typed);
          return;
        } else if (ERASE.has(char)) {
          typed = [...typed].slice(0, -1).join('');
        } else {
          typed += char;
        }
      }
    };
    input.on('data', onData);
  });
}

/** Everything on a non-terminal stdin, less one trailing newline (CRLF too). */
async function readAll(input: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function fail(message: string): never {
  process.stderr.write(`hash-password: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (args.length > 0)
  fail(`unexpected argument ${JSON.stringify(args[0])} (the password is read from stdin; see --help)`);

const password = process.stdin.isTTY ? await readHidden(process.stdin) : await readAll(process.stdin);
if (password === '') fail('empty password');
if (/[\r\n]/.test(password)) fail('stdin holds more than one line; give one password');
process.stdout.write(`${await hashPassword(password)}\n`);
