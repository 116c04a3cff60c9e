import {
  check,
  connect,
  formatReport,
  testCertificate,
  TsProcess,
  within,
  type HistoryRecorder,
  type TestClient,
} from '@pubsub/testkit';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { subscribe, type Env } from './chain.js';

/** Shared by the fault tests (reliability test plan F1–F4): the three services as child processes. */

/** Any frame a fault test's client gets: a publish reply, a delivery, or a `subscribed` reply. */
export interface Frame {
  type: string;
  topic?: string;
  id?: string;
  content?: string;
  seq?: number;
  epoch?: string;
  code?: string;
  from?: number;
  recovered?: boolean;
  replayed?: number;
}
export type ServiceName = 'msgqueue' | 'publisher' | 'subscriber';
/** The chain's three, or the bridge, which feeds it from PostgreSQL or RabbitMQ. */
export type RunService = (service: ServiceName | 'bridge', env: Env) => TsProcess;

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

/** The three services as child processes on free ports, the msgqueue with its durable file store. */
export interface FaultChain {
  readonly ca: string;
  /** The environment each service was started with; restart on the same port with `<SERVICE>_PORT`. */
  readonly queueEnv: Env;
  readonly publisherEnv: Env;
  readonly subscriberEnv: Env;
  readonly queuePort: number;
  readonly publishPort: number;
  readonly subscribePort: number;
  readonly publishUrl: string;
  readonly subscribeUrl: string;
  /** The running processes; a test that restarts one puts the new process here. */
  queue: TsProcess;
  publisher: TsProcess;
  subscriber: TsProcess;
}

/**
 * Starts msgqueue (file store in a fresh temp MSGQUEUE_DATA_DIR; FAULT_STORE=memory swaps the store
 * to show what a fault test catches without durability), then publisher and subscriber pointed at it.
 */
export async function startFaultChain(run: RunService, extra: { subscriber?: Env } = {}): Promise<FaultChain> {
  const { certDir, ca } = await testCertificate();
  const dataDir = mkdtempSync(join(tmpdir(), 'pubsub-fault-'));
  const base = { WS_CERT_DIR: certDir, UPSTREAM_BACKOFF_MAX_MS: '200', LOG_LEVEL: 'info' };
  const queueEnv = {
    ...base,
    // Connection open and close are debug lines; the fault tests wait for the hops' ends.
    LOG_LEVEL: 'debug',
    MSGQUEUE_PORT: '0',
    MSGQUEUE_DATA_DIR: dataDir,
    MSGQUEUE_STORE: process.env.FAULT_STORE ?? 'file',
  };
  const queue = run('msgqueue', queueEnv);
  const queuePort = await listening(queue);
  const publisherEnv = { ...base, PUBLISHER_PORT: '0', PUBLISHER_QUEUE_URL: `wss://localhost:${queuePort}/pushmsg` };
  const subscriberEnv = {
    ...base,
    SUBSCRIBER_PORT: '0',
    SUBSCRIBER_QUEUE_URL: `wss://localhost:${queuePort}/popmsg`,
    SUBSCRIBER_DATA_DIR: mkdtempSync(join(tmpdir(), 'pubsub-fault-subscriber-')),
    ...extra.subscriber,
  };
  const publisher = run('publisher', publisherEnv);
  const subscriber = run('subscriber', subscriberEnv);
  const [publishPort, subscribePort] = await Promise.all([listening(publisher), listening(subscriber)]);
  return {
    ca,
    queueEnv,
    publisherEnv,
    subscriberEnv,
    queuePort,
    publishPort,
    subscribePort,
    publishUrl: `wss://localhost:${publishPort}/publish`,
    subscribeUrl: `wss://localhost:${subscribePort}/subscribe`,
    queue,
    publisher,
    subscriber,
  };
}

interface Delivery {
  type: string;
  topic: string;
  id: string;
  content: string;
  seq: number;
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
      const frame = JSON.parse((data as Buffer).toString()) as Delivery;
      if (frame.type === 'message')
        history.delivered({ subscriber: name, topic: frame.topic, id: frame.id, body: frame.content, seq: frame.seq });
    });
    subscribers.set(name, client);
  }
  return subscribers;
}

/**
 * Resolves once the history holds at least `expectedDeliveries` deliveries and the checker finds no
 * acked message missing at any subscriber; checked on every frame the subscribers get. Rejects after
 * `timeoutMs` with the checker's report. `summary` is printed either way, so a failing run shows
 * what it sent and saw too.
 */
export async function deliveredAll(
  history: HistoryRecorder,
  subscribers: Iterable<TestClient>,
  options: { expectedDeliveries: number; timeoutMs: number; summary?: () => string },
): Promise<void> {
  const clients = [...subscribers];
  let deliveries = 0;
  let counted = 0;
  let resolveAll: () => void = () => undefined;
  const done = new Promise<void>((resolveDone) => (resolveAll = resolveDone));
  const onFrame = () => {
    // Counting is cheap; the full check runs only once enough deliveries are in.
    const { events } = history;
    for (; counted < events.length; counted++) if (events[counted]?.kind === 'deliver') deliveries++;
    if (deliveries >= options.expectedDeliveries && check(events).lost.length === 0) resolveAll();
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
