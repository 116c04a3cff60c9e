import type { Logger } from '@pubsub/log';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export type ServiceName = 'msgqueue' | 'publisher' | 'subscriber';

/** Restart delays: doubling from the first, capped, and back to the first after a stable run. */
const RESTART_FIRST_MS = 250;
const RESTART_MAX_MS = 10_000;
const STABLE_RUN_MS = 30_000;

export interface SupervisorOptions {
  readonly name: ServiceName;
  readonly root: string;
  /** Added to the launcher's environment. */
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  /** Each stdout line of the service (its JSON logs). */
  readonly output: (line: string) => void;
}

/**
 * One service as a child process, restarted with backoff whenever it exits while the suite is
 * meant to run. A restart listens on the port the first run got, so the services that dial it
 * (and clients) find it where it was. Only the first run failing, before it listens, is fatal.
 */
export class Supervisor {
  readonly name: ServiceName;
  readonly #options: SupervisorOptions;
  #child: ChildProcess | undefined;
  #port: number | undefined;
  #grpcPort: number | undefined;
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #restarts = 0;

  constructor(options: SupervisorOptions) {
    this.name = options.name;
    this.#options = options;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The gRPC port from the first run's `listening` line, when the service has gRPC enabled. */
  get grpcPort(): number | undefined {
    return this.#grpcPort;
  }

  /** Resolves with the port from the first run's `listening` line; rejects if it exits first. */
  start(): Promise<number> {
    return new Promise((resolvePort, reject) => this.#run({ listening: resolvePort, failed: reject }));
  }

  /** SIGTERM, and no more restarts; resolves with the exit code (null: not running or a signal). */
  async stop(): Promise<number | null> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return null;
    const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    child.kill('SIGTERM');
    return exited;
  }

  /** For the launcher's last words: its services must not outlive it. */
  kill(): void {
    this.#child?.kill('SIGTERM');
  }

  #run(first?: { listening: (port: number) => void; failed: (err: Error) => void }): void {
    const { name, root, env, log } = this.#options;
    const prefix = name.toUpperCase();
    const portEnv = {
      ...(this.#port !== undefined && { [`${prefix}_PORT`]: String(this.#port) }),
      ...(this.#grpcPort !== undefined && { [`${prefix}_GRPC_PORT`]: String(this.#grpcPort) }),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', name, 'src', 'main.ts')], {
      cwd: root,
      env: { ...process.env, ...env, ...portEnv },
      stdio: ['ignore', 'pipe', 'inherit'],
      // Own process group: Ctrl-C reaches only the launcher, which then stops the services in order.
      detached: true,
    });
    this.#child = child;
    const startedAt = Date.now();
    log.debug({ child: name, pid: child.pid }, 'service started');
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.#options.output(line);
      const ports = listeningPorts(line);
      if (ports === undefined) return;
      const { port } = ports;
      this.#port = port;
      this.#grpcPort = ports.grpcPort;
      if (first !== undefined) first.listening(port);
      else log.info({ child: name, pid: child.pid, port, restarts: this.#restarts }, 'service restarted');
    });
    child.once('exit', (code, signal) => {
      if (this.#stopping) return;
      if (this.#port === undefined && first !== undefined) {
        first.failed(new Error(`${name} exited (${code ?? signal}) before listening`));
        return;
      }
      if (Date.now() - startedAt >= STABLE_RUN_MS) this.#failures = 0;
      const restartInMs = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** this.#failures++);
      log.error({ child: name, pid: child.pid, code, signal, restartInMs }, 'service exited; restarting it');
      this.#restartTimer = setTimeout(() => {
        this.#restarts++;
        this.#run();
      }, restartInMs);
    });
  }
}

function listeningPorts(line: string): { port: number; grpcPort: number | undefined } | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: unknown; port?: unknown; grpcPort?: unknown };
    if (entry.msg !== 'listening' || typeof entry.port !== 'number') return undefined;
    return { port: entry.port, grpcPort: typeof entry.grpcPort === 'number' ? entry.grpcPort : undefined };
  } catch {
    return undefined;
  }
}
