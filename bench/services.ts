import { once } from 'node:events';
import { request } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { within } from '@pubsub/testkit';
import { askPreload, ROOT, TsChild, unexpectedLines } from './process.js';
import { ROLES, type Role, type System } from './systems.js';
import { FSYNC_PREFIX, type FsyncCounters } from './types.js';

export type Store = 'file' | 'memory';

export interface SuiteOptions {
  store: Store;
  /** WS_CERT_DIR: holds the generated server.crt / server.key. */
  certDir: string;
  ca: string;
  /** MSGQUEUE_DATA_DIR, fresh and empty; the subscriber's state goes beside it (`<dataDir>-subscriber`). */
  dataDir: string;
  /** LOG_LEVEL of every service. */
  logLevel: string;
  /** When set, the msgqueue runs with --cpu-prof and writes its profile here on exit. */
  profileDir?: string;
  /** More environment for all three services (the optimisation switches). */
  env: Record<string, string>;
  /** Ports to listen on (the Go original's, to run on the same ones); free ports of the driver's choosing by default. */
  ports?: { readonly queue: number; readonly publish: number; readonly subscribe: number };
  /** More Node flags and environment for one service (the fan-out's subscriber: the memory probe, room for S sockets). */
  roles?: Partial<Record<Role, { readonly nodeArgs?: readonly string[]; readonly env?: Record<string, string> }>>;
}

/** Warnings a development chain logs at every start: not findings of a run. */
export const EXPECTED_WARNINGS = [
  /development user/i,
  /in-memory store/i,
  /default.*(user|credential|password)/i,
  /AUTH_TOKEN_SECRET is unset/,
];
const READY_TIMEOUT_MS = 30_000;

/** The three services as child processes, and how to observe them. */
export class Suite implements System {
  readonly options: SuiteOptions;
  readonly children: Record<Role, TsChild>;
  readonly publishPort: number;
  readonly subscribePort: number;
  /** The msgqueue's, for another pusher (the bridge section's bridge). */
  readonly queuePort: number;

  private constructor(
    options: SuiteOptions,
    children: Record<Role, TsChild>,
    ports: { publish: number; subscribe: number; queue: number },
  ) {
    this.options = options;
    this.children = children;
    this.publishPort = ports.publish;
    this.subscribePort = ports.subscribe;
    this.queuePort = ports.queue;
  }

  /**
   * Starts msgqueue, then publisher and subscriber pointed at it. At LOG_LEVEL info or lower the
   * ports are 0 and read from each `listening` line, as the tests do. That line is info level, so
   * at warn (the default here) the driver picks free ports itself and waits until each service
   * answers HTTPS on its port (a WebSocket path without upgrade: 426).
   */
  static async start(options: SuiteOptions): Promise<Suite> {
    const verbose = ['info', 'debug', 'trace'].includes(options.logLevel);
    const fixed =
      options.ports !== undefined
        ? [options.ports.queue, options.ports.publish, options.ports.subscribe]
        : verbose
          ? undefined
          : await freePorts(3);
    // The load generator publishes far faster than the per-connection default (1,000/s) allows.
    const base = {
      PUBLISHER_RATE_LIMIT: '0',
      ...options.env,
      WS_CERT_DIR: options.certDir,
      LOG_LEVEL: options.logLevel,
    };
    const portOf = (index: number) => String(fixed?.[index] ?? 0);
    const counter = pathToFileURL(join(ROOT, 'bench', 'fsync-counter.ts')).href;
    const profile = options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`];
    const started: TsChild[] = [];
    const start = (role: Role, nodeArgs: readonly string[], env: Record<string, string>) => {
      const extra = options.roles?.[role];
      const child = new TsChild(
        role,
        { entry: `services/${role}/src/main.ts`, nodeArgs: [...nodeArgs, ...(extra?.nodeArgs ?? [])] },
        { ...base, ...env, ...extra?.env },
      );
      started.push(child);
      return child;
    };
    try {
      const msgqueue = start('msgqueue', ['--import', counter, ...profile], {
        MSGQUEUE_PORT: portOf(0),
        MSGQUEUE_STORE: options.store,
        MSGQUEUE_DATA_DIR: options.dataDir,
      });
      const queuePort = await ready(msgqueue, fixed?.[0], options.ca);
      const publisher = start('publisher', [], {
        PUBLISHER_PORT: portOf(1),
        PUBLISHER_QUEUE_URL: `wss://127.0.0.1:${queuePort}/pushmsg`,
      });
      const subscriber = start('subscriber', [], {
        SUBSCRIBER_PORT: portOf(2),
        SUBSCRIBER_QUEUE_URL: `wss://127.0.0.1:${queuePort}/popmsg`,
        // Its own, not the repository's default: chains run side by side, and a bench must not
        // touch the state of the operator's own subscriber.
        SUBSCRIBER_DATA_DIR: `${options.dataDir}-subscriber`,
      });
      const [publish, subscribe] = await Promise.all([
        ready(publisher, fixed?.[1], options.ca),
        ready(subscriber, fixed?.[2], options.ca),
      ]);
      // Their /ready turns 200 with this line: the hop to the msgqueue is up (info level, so seen only when verbose).
      if (verbose) await Promise.all([publisher, subscriber].map((child) => logged(child, 'upstream connected')));
      return new Suite(options, { msgqueue, publisher, subscriber }, { publish, subscribe, queue: queuePort });
    } catch (err) {
      await Promise.all(started.map((child) => child.stop('SIGKILL')));
      throw err;
    }
  }

  /** The msgqueue's fsync/writev counters (from the preloaded fsync-counter.ts). */
  fsyncCounters(): Promise<FsyncCounters | undefined> {
    return askPreload<FsyncCounters>(this.children.msgqueue, FSYNC_PREFIX, 2_000).catch(() => undefined);
  }

  /** Log lines at warn or above that are not the usual start-up warnings, per service. */
  unexpectedLogLines(): Partial<Record<Role, string[]>> {
    const found: Partial<Record<Role, string[]>> = {};
    for (const name of ROLES) {
      const lines = unexpectedLines(this.children[name], EXPECTED_WARNINGS);
      if (lines.length > 0) found[name] = lines.slice(0, 20);
    }
    return found;
  }

  /** Stops publisher and subscriber, then the msgqueue (SIGTERM: graceful, writes a CPU profile). */
  async stop(): Promise<Record<Role, number | null>> {
    const [publisher, subscriber] = await Promise.all([
      this.children.publisher.stop(),
      this.children.subscriber.stop(),
    ]);
    const msgqueue = await this.children.msgqueue.stop();
    return { msgqueue, publisher, subscriber };
  }
}

/** The child's first log line with this `msg`; rejects if it exits or takes too long. */
export async function logged(child: TsChild, msg: string): Promise<Record<string, unknown>> {
  try {
    return await within(child.waitForLog(msg), READY_TIMEOUT_MS, () => `${child.name}: ${msg}`);
  } catch (err) {
    // A service that cannot start says why in its log, on stdout.
    throw new Error(`${(err as Error).message}\n${child.lines.slice(-5).join('\n')}`, { cause: err });
  }
}

/** The port of the child's `listening` log line; rejects if it exits or takes too long. */
export async function listeningPort(child: TsChild): Promise<number> {
  return (await logged(child, 'listening')).port as number;
}

async function ready(child: TsChild, fixedPort: number | undefined, ca: string): Promise<number> {
  if (fixedPort === undefined) return listeningPort(child);
  await answeringHttps(
    { name: child.name, exited: child.exited, output: () => [...child.lines, ...child.stderr] },
    fixedPort,
    ca,
  );
  return fixedPort;
}

/**
 * Resolves once a server with our certificate answers HTTPS on `port` (any status will do); rejects
 * if the process exits first, with the last lines of `output`, or takes too long.
 */
export async function answeringHttps(
  server: { readonly name: string; readonly exited: Promise<number | null>; output(): readonly string[] },
  port: number,
  ca: string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exitCode: number | undefined;
  void server.exited.then((code) => (exitCode = code ?? -1));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(`${server.name} exited (${exitCode}) while starting:\n${server.output().slice(-20).join('\n')}`);
    }
    if (await answersHttps(port, ca)) return;
    await delay(50);
  }
  throw new Error(`${server.name} did not answer on port ${port} within ${READY_TIMEOUT_MS} ms`);
}

/** Whether a TLS server with our certificate answers an HTTP request on the port. */
async function answersHttps(port: number, ca: string): Promise<boolean> {
  const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET', ca, timeout: 1_000 });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.end();
  try {
    const [res] = (await once(req, 'response')) as [{ resume(): void }];
    res.resume();
    return true;
  } catch {
    return false;
  } finally {
    req.destroy();
  }
}

/** Distinct free ports on 127.0.0.1 (held open together so they differ, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolveClose) => server.close(resolveClose))));
  return ports;
}
