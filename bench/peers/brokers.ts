/**
 * The peers' servers, started by the bench itself: `nats-server -js` and `redis-server` from
 * Debian's packages, each on its own free port with its own data directory under the bench's
 * work directory, TLS with the bench's certificate, a password, stopped by PID. A missing binary
 * is installed once with apt-get; if that fails too, the system is reported as not measured.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { freePorts } from '../services.js';

const run = promisify(execFile);

export type BrokerId = 'jetstream' | 'redis';

/** Where Debian puts each binary, and its package. */
const BINARIES: Record<BrokerId, { readonly path: string; readonly name: string; readonly pkg: string }> = {
  jetstream: { path: '/usr/sbin/nats-server', name: 'nats-server', pkg: 'nats-server' },
  redis: { path: '/usr/bin/redis-server', name: 'redis-server', pkg: 'redis-server' },
};
const READY_TIMEOUT_MS = 20_000;

const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export interface BrokerOptions {
  /** A fresh directory for this broker's data and configuration. */
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly user: string;
  readonly password: string;
}

export interface Broker {
  readonly id: BrokerId;
  readonly port: number;
  readonly pid: number;
  readonly version: string;
  /** The settings that matter for what is measured (durability above all). */
  readonly settings: Record<string, string>;
  /** Stderr and stdout lines that are not start-up chatter. */
  readonly output: string[];
  stop(): Promise<number | null>;
}

/** Whether `path` is a file this process may execute. */
export const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

async function which(name: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('sh', ['-c', `command -v ${name}`]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

let installing: Promise<string | undefined> | undefined;

/** apt-get update && apt-get install -y for both packages, once per bench run; the error text if it failed. */
function install(): Promise<string | undefined> {
  installing ??= (async () => {
    const packages = Object.values(BINARIES).map((binary) => binary.pkg);
    try {
      await run('apt-get', ['update'], { timeout: 300_000 });
      await run('apt-get', ['install', '-y', ...packages], {
        timeout: 600_000,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      return undefined;
    } catch (err) {
      return `apt-get install ${packages.join(' ')} failed: ${(err as Error).message.split('\n')[0]}`;
    }
  })();
  return installing;
}

/** The binary's path, installing the package when it is missing; or why it cannot be had. */
export async function binaryFor(id: BrokerId): Promise<{ path: string } | { missing: string }> {
  const binary = BINARIES[id];
  const found = executable(binary.path) ? binary.path : await which(binary.name);
  if (found !== undefined) return { path: found };
  const failed = await install();
  if (failed !== undefined) return { missing: `${binary.name} not found and ${failed}` };
  const after = executable(binary.path) ? binary.path : await which(binary.name);
  return after === undefined
    ? { missing: `${binary.name} still not found after installing ${binary.pkg}` }
    : { path: after };
}

async function versionOf(path: string, flag: string): Promise<string> {
  try {
    return (await run(path, [flag])).stdout.trim();
  } catch {
    return 'unknown';
  }
}

/** A server process of the bench's own (not TypeScript): killed when the driver exits; `exited` gives its exit code. */
export function spawnServerProcess(
  path: string,
  args: readonly string[],
  options: SpawnOptions,
): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(path, args, options);
  running.add(child);
  const exited = once(child, 'exit').then(([code]) => {
    running.delete(child);
    return code as number | null;
  });
  return { child, exited };
}

/** Spawns the server, resolves once a line matches `ready`; rejects if it exits or stays silent. */
async function spawnServer(
  path: string,
  args: readonly string[],
  ready: RegExp,
): Promise<{ child: ChildProcess; lines: string[] }> {
  const { child, exited } = spawnServerProcess(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let onReady: () => void = () => undefined;
  const readyNow = new Promise<void>((resolve) => (onReady = resolve));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (ready.test(line)) onReady();
    });
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      readyNow,
      exited.then((code) => {
        throw new Error(`${path} exited (${code}) while starting:\n${lines.slice(-10).join('\n')}`);
      }),
      new Promise((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${path} not ready within ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { child, lines };
}

/** SIGTERM, SIGKILL after 10 s; resolves with the exit code. */
export function stopper(child: ChildProcess): () => Promise<number | null> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
}

/**
 * nats-server with JetStream, file storage. Debian's nats-server (2.9) has no `sync_interval`:
 * JetStream acknowledges a publish once it is written to its file, and fsyncs on its own timer.
 */
export async function startNats(path: string, options: BrokerOptions): Promise<Broker> {
  const [port] = await freePorts(1);
  const storeDir = join(options.dir, 'jetstream');
  mkdirSync(storeDir, { recursive: true });
  const configFile = join(options.dir, 'nats.conf');
  const quote = JSON.stringify;
  writeFileSync(
    configFile,
    [
      `listen: ${quote(`127.0.0.1:${port}`)}`,
      // Handshake and auth timeouts well above the defaults (0.5–2 s): on a loaded 2-core machine 16
      // publishers' TLS handshakes at once took longer, and nats-server closed one mid-run.
      `tls { cert_file: ${quote(options.certFile)}, key_file: ${quote(options.keyFile)}, timeout: 10 }`,
      `authorization { user: ${quote(options.user)}, password: ${quote(options.password)}, timeout: 10 }`,
      `jetstream { store_dir: ${quote(storeDir)} }`,
      '',
    ].join('\n'),
  );
  const { child, lines } = await spawnServer(path, ['-c', configFile], /Server is ready/);
  return {
    id: 'jetstream',
    port: port as number,
    pid: child.pid ?? -1,
    version: await versionOf(path, '--version'),
    settings: { storage: 'file', replicas: '1', fsync: 'server default (no per-message fsync in 2.9)', tls: 'on' },
    get output() {
      return lines.filter((line) => /\[(ERR|WRN|FTL)\]/.test(line));
    },
    stop: stopper(child),
  };
}

/** redis-server with the AOF on and `appendfsync always`: a write is answered after its fsync. */
export async function startRedis(path: string, options: BrokerOptions): Promise<Broker> {
  const [port] = await freePorts(1);
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    options.certFile,
    '--tls-key-file',
    options.keyFile,
    '--tls-auth-clients',
    'no',
    '--requirepass',
    options.password,
    '--dir',
    options.dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--save',
    '',
    '--daemonize',
    'no',
  ];
  const { child, lines } = await spawnServer(path, args, /Ready to accept connections/);
  return {
    id: 'redis',
    port: port as number,
    pid: child.pid ?? -1,
    version: await versionOf(path, '--version'),
    settings: { appendonly: 'yes', appendfsync: 'always', tls: 'on' },
    get output() {
      return lines.filter((line) => / # .*(warning|error|fail)/i.test(line));
    },
    stop: stopper(child),
  };
}
