import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const running = new Set<ChildProcessWithoutNullStreams>();

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Stream = 'stdout' | 'stderr';

/** The CLI as a child process, its output kept as lines so a test can wait for one. */
export interface CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
  /** Resolves once the process has exited and both output streams are closed. */
  readonly exited: Promise<Exit>;
  /** The first line (already printed or still to come) on `stream` that contains `text`. */
  line(stream: Stream, text: string): Promise<string>;
  /** Writes one line to stdin. */
  send(line: string): void;
}

/** Points the CLI at a chain's endpoints and CA, with the development credentials. */
export function chainEnv(chain: { publishUrl: string; subscribeUrl: string; certDir: string }): NodeJS.ProcessEnv {
  return {
    CLIENTDEMO_PUBLISH_URL: chain.publishUrl,
    CLIENTDEMO_SUBSCRIBE_URL: chain.subscribeUrl,
    CLIENTDEMO_USER: 'hello',
    CLIENTDEMO_PASSWORD: 'test',
    WS_CA_FILE: join(chain.certDir, 'server.crt'),
  };
}

export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'clientdemo/src/cli.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
  });
  running.add(child);
  const lines: Record<Stream, string[]> = { stdout: [], stderr: [] };
  const waiters = new Set<{ stream: Stream; text: string; found: (line: string) => void }>();
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream] }).on('line', (line) => {
      lines[stream].push(line);
      for (const waiter of waiters) {
        if (waiter.stream === stream && line.includes(waiter.text)) {
          waiters.delete(waiter);
          waiter.found(line);
        }
      }
    });
  }
  const exited = new Promise<Exit>((resolveExit) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolveExit({ code, signal });
    });
  });
  const describe = () => `stdout:\n${lines.stdout.join('\n')}\nstderr:\n${lines.stderr.join('\n')}`;

  return {
    child,
    stdout: lines.stdout,
    stderr: lines.stderr,
    exited,
    line(stream, text) {
      const seen = lines[stream].find((line) => line.includes(text));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((found, reject) => {
        waiters.add({ stream, text, found });
        void exited.then((exit) =>
          reject(
            new Error(
              `clientdemo exited (${exit.code ?? exit.signal}) before printing "${text}" on ${stream}\n${describe()}`,
            ),
          ),
        );
      });
    },
    send(line) {
      child.stdin.write(`${line}\n`);
    },
  };
}

/** Kills every CLI process a test left running; for afterEach. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      const closed = new Promise((resolveClosed) => child.once('close', resolveClosed));
      child.kill('SIGKILL');
      return closed;
    }),
  );
}
