import { createInterface } from 'node:readline/promises';
import { hashPassword } from './password.js';

// Reads the password from stdin rather than argv, so it stays out of shell history and `ps`.
const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
const password = await rl.question(process.stdin.isTTY ? 'password: ' : '');
rl.close();
if (password === '') {
  process.stderr.write('hash-password: empty password\n');
  process.exit(2);
}
process.stdout.write(`${await hashPassword(password)}\n`);
