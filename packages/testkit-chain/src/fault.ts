import {
  check,
  connect,
  formatReport,
  tempDir,
  testCertificate,
  TsProcess,
  within,
  type HistoryRecorder,
  type TestClient,
} from '@pubsub/testkit';
import { afterEach, expect } from 'vitest';
import { subscribe, type Env } from './chain.js';
import { recordDelivery, type Frame } from './frames.js';

/** Shared by the fault tests (reliability test plan F1–F4): the three services as child processes. */

export type ServiceName = 'msgqueue' | 'publisher' | 'subscriber';
/** The chain's three, or the bridge, which feeds it from PostgreSQL or RabbitMQ. */
export type ChildService = ServiceName | 'bridge';
export type RunService = (service: ChildService, env: Env) => TsProcess;

/**
 * Returns a function that starts a service as a child process. Call it at the top of a test file:
 * it registers an afterEach that SIGKILLs every process it started, restarted ones included.
 */
export function childServices(): RunService {
  const started: TsProcess[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((proc) => proc.kill('SIGKILL')));
  });
  return (service, env) => {
    const proc = new TsProcess(`services/${service}/src/main.ts`, env);
    started.push(proc);
    return proc;
  };
}

/** The port from the service's `listening` log line. */
export async function listening(proc: TsProcess): Promise<number> {
  return (await proc.waitForLog('listening')).port as number;
}

/** What every service run as a child process gets: the test certificate, redials within 200 ms, info logs. */
export async function childEnv(): Promise<{ ca: string; env: Env }> {
  const { certDir, ca } = await testCertificate();
  return { ca, env: { WS_CERT_DIR: certDir, UPSTREAM_BACKOFF_MAX_MS: '200', LOG_LEVEL: 'info' } };
}

/** A service's hop to the msgqueue nodes on `queuePorts`, dialled in that order (a subscriber pops, others push). */
export function queueUrlEnv(service: Exclude<ChildService, 'msgqueue'>, queuePorts: readonly number[]): Env {
  const path = service === 'subscriber' ? 'popmsg' : 'pushmsg';
  const urls = queuePorts.map((port) => `wss://localhost:${port}/${path}`);
  return { [`${service.toUpperCase()}_QUEUE_URL`]: urls.join(',') };
}

/** One service process, and the same service again on the same port once it is gone. */
export interface ServiceNode {
  /** The port it listens on, the restarted process's too. */
  readonly port: number;
  /** The running process; `restart` puts the new one here. */
  proc: TsProcess;
  /** Starts the service again with its environment on its port; resolves with the port it listens on. */
  restart(): Promise<number>;
}

/** Starts `service` with `env` on a free port (`<SERVICE>_PORT`); resolves once it listens. */
export async function startNode(run: RunService, service: ChildService, env: Env): Promise<ServiceNode> {
  const portVariable = `${service.toUpperCase()}_PORT`;
  const proc = run(service, { ...env, [portVariable]: '0' });
  const port = await listening(proc);
  const node: ServiceNode = {
    port,
    proc,
    async restart() {
      node.proc = run(service, { ...env, [portVariable]: String(port) });
      return listening(node.proc);
    },
  };
  return node;
}

/** The three services as child processes on free ports, the msgqueue with its durable file store. */
export interface FaultChain extends Readonly<Record<ServiceName, ServiceNode>> {
  readonly ca: string;
  readonly publishUrl: string;
  readonly subscribeUrl: string;
}

/**
 * Starts msgqueue (file store in a fresh temp MSGQUEUE_DATA_DIR; FAULT_STORE=memory swaps the store
 * to show what a fault test catches without durability), then publisher and subscriber pointed at it.
 */
export async function startFaultChain(run: RunService, extra: { subscriber?: Env } = {}): Promise<FaultChain> {
  const { ca, env } = await childEnv();
  const msgqueue = await startNode(run, 'msgqueue', {
    ...env,
    // Connection open and close are debug lines; the fault tests wait for the hops' ends.
    LOG_LEVEL: 'debug',
    MSGQUEUE_DATA_DIR: tempDir('fault'),
    MSGQUEUE_STORE: process.env.FAULT_STORE ?? 'file',
  });
  const [publisher, subscriber] = await Promise.all([
    startNode(run, 'publisher', { ...env, ...queueUrlEnv('publisher', [msgqueue.port]) }),
    startNode(run, 'subscriber', {
      ...env,
      ...queueUrlEnv('subscriber', [msgqueue.port]),
      SUBSCRIBER_DATA_DIR: tempDir('fault-subscriber'),
      ...extra.subscriber,
    }),
  ]);
  return {
    ca,
    msgqueue,
    publisher,
    subscriber,
    publishUrl: `wss://localhost:${publisher.port}/publish`,
    subscribeUrl: `wss://localhost:${subscriber.port}/subscribe`,
  };
}

/**
 * Connects one subscribing client per name, subscribes each to every topic (recording `subscribed`
 * once the server confirms it) and records every delivery, with its seq, in the history.
 */
export async function recordedSubscribers(
  chain: FaultChain,
  history: HistoryRecorder,
  options: { names: readonly string[]; topics: readonly string[] },
): Promise<Map<string, TestClient>> {
  const subscribers = new Map<string, TestClient>();
  for (const name of options.names) {
    const client = await connect(chain.subscribeUrl, { ca: chain.ca });
    for (const topic of options.topics) {
      await subscribe(client, topic);
      history.subscribed({ subscriber: name, topic });
    }
    client.ws.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString()) as Frame;
      if (frame.type === 'message') recordDelivery(history, name, frame);
    });
    subscribers.set(name, client);
  }
  return subscribers;
}

/**
 * Resolves once every message acked so far has reached every one of `subscribers`: the history
 * holds as many deliveries and the checker finds no acked message missing; checked on every frame
 * they get. Rejects after `timeoutMs` with the checker's report. `summary` is printed either way,
 * so a failing run shows what it sent and saw too.
 */
export async function deliveredAll(
  history: HistoryRecorder,
  subscribers: Iterable<TestClient>,
  options: { timeoutMs: number; summary?: () => string },
): Promise<void> {
  const clients = [...subscribers];
  const acked = history.events.filter((event) => event.kind === 'publish' && event.outcome === 'ok').length;
  const expectedDeliveries = acked * clients.length;
  let deliveries = 0;
  let counted = 0;
  let resolveAll: () => void = () => undefined;
  const done = new Promise<void>((resolveDone) => (resolveAll = resolveDone));
  const onFrame = () => {
    // Counting is cheap; the full check runs only once enough deliveries are in.
    const { events } = history;
    for (; counted < events.length; counted++) if (events[counted]?.kind === 'deliver') deliveries++;
    if (deliveries >= expectedDeliveries && check(events).lost.length === 0) resolveAll();
  };
  for (const client of clients) client.ws.on('message', onFrame);
  try {
    onFrame();
    await within(
      done,
      options.timeoutMs,
      () => `not every acked message delivered:\n${formatReport(check(history.events))}`,
    );
  } finally {
    for (const client of clients) client.ws.off('message', onFrame);
    if (options.summary !== undefined) process.stderr.write(`${options.summary()}\n`);
  }
}

/** The checker's verdict on the whole history: nothing lost, duplicated or reordered. */
export function expectNoAnomalies(history: HistoryRecorder): void {
  const report = check(history.events);
  expect(report.ok, formatReport(report)).toBe(true);
  expect(report.lost).toEqual([]);
  expect(report.duplicated).toEqual([]);
  expect(report.reordered).toEqual([]);
}
