/**
 * The load generator, run as its own process by run.ts: `node --import tsx bench/load.ts '<LoadConfig JSON>'`.
 * Opens one subscribing client (`sub bench`) and the publishing clients, warms the chain up,
 * runs one scenario, prints `BENCH_EVENT start|end` around the measurement and one
 * `BENCH_RESULT <json>` line at the end.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocket, type RawData } from 'ws';
import { childConfig, childFailed, report, tell } from './child.js';
import { latencySummary } from './histogram.js';
import { monotonicMs, perSecond } from './stats.js';
import { parseId, Tracker } from './tracker.js';
import { CONTENT, TOPIC, type LoadConfig, type LoadResult, type ScenarioSpec } from './types.js';

/** Time after completion during which late duplicates are still counted. */
const DUPLICATE_GRACE_MS = 300;
const CLOSE_WAIT_MS = 2_000;
/** A chain that cannot take the warm-up in this long is broken, not slow: fail early. */
const WARMUP_TIMEOUT_MS = 20_000;

const config = childConfig<LoadConfig>();
/** performance.now() + this = monotonicMs(): both count on the monotonic clock. */
const monotonicOffset = monotonicMs() - performance.now();
const ca = readFileSync(config.caFile, 'utf8');
const trackers = new Map<string, Tracker>();
let closing = false;

const fail: (message: string) => never = (message) => childFailed('load generator', message);

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { ca, auth: config.auth });
  await once(ws, 'open');
  ws.on('close', (code: number, reason: Buffer) => {
    if (!closing) fail(`${url} closed unexpectedly (${code} ${reason.toString()})`);
  });
  return ws;
}

/** Sends publisher k's next message (numbers are consecutive per publisher). */
function sendNext(tracker: Tracker, ws: WebSocket, publisher: number): void {
  const n = tracker.sent[publisher] as number;
  tracker.markSent(publisher, n, performance.now());
  ws.send(`{"topic":"${TOPIC}","content":${CONTENT},"id":"${tracker.id(publisher, n)}"}`);
}

interface Frame {
  type?: string;
  id?: string;
  code?: string;
  topic?: string;
}

function onPublisherFrame(publisher: number, data: RawData): void {
  const now = performance.now();
  const frame = JSON.parse((data as Buffer).toString()) as Frame;
  const parsed = frame.id === undefined ? undefined : parseId(frame.id);
  const tracker = parsed && trackers.get(parsed.label);
  if (parsed === undefined || tracker === undefined || parsed.publisher !== publisher) {
    fail(`unexpected reply on publisher ${publisher}: ${(data as Buffer).toString().slice(0, 200)}`);
  }
  if (frame.type === 'ack') tracker.ack(parsed.publisher, parsed.n, now);
  else tracker.refuse(parsed.publisher, frame.code ?? 'UNKNOWN');
}

let subscribed: (() => void) | undefined;
let foreign = 0;

function onSubscriberFrame(data: RawData): void {
  const now = performance.now();
  const frame = JSON.parse((data as Buffer).toString()) as Frame;
  if (frame.type === 'subscribed') {
    subscribed?.();
    return;
  }
  if (frame.type !== 'message' || frame.id === undefined) {
    fail(`unexpected frame on the subscriber: ${(data as Buffer).toString().slice(0, 200)}`);
  }
  const parsed = parseId(frame.id);
  const tracker = parsed && trackers.get(parsed.label);
  if (parsed === undefined || tracker === undefined) foreign++;
  else tracker.deliver(parsed.publisher, parsed.n, now);
}

/** Resolves when the tracker completes, or with true (timed out) after `timeoutMs`. */
function completion(tracker: Tracker, timeoutMs: number): Promise<boolean> {
  return new Promise((resolveDone) => {
    const timer = setTimeout(() => resolveDone(true), timeoutMs);
    tracker.onProgress = () => {
      if (tracker.complete) {
        clearTimeout(timer);
        tracker.onProgress = () => undefined;
        resolveDone(false);
      }
    };
    tracker.onProgress();
  });
}

/** Sends every publisher's share with at most `window` unanswered per connection. */
function pump(tracker: Tracker, publishers: readonly WebSocket[], window: number): void {
  const topUp = (k: number) => {
    const ws = publishers[k] as WebSocket;
    const quota = tracker.quotas[k] as number;
    while (
      (tracker.sent[k] as number) < quota &&
      (tracker.sent[k] as number) - (tracker.answered[k] as number) < window
    ) {
      sendNext(tracker, ws, k);
    }
  };
  tracker.onAnswer = topUp;
  publishers.forEach((_ws, k) => topUp(k));
}

/** Publisher 0 sends message i at `start + i / rate` (sending late ones at once, never skipping). */
function timetable(tracker: Tracker, ws: WebSocket, rate: number): { intended: Float64Array; done: Promise<void> } {
  const total = tracker.quotas[0] as number;
  const intended = new Float64Array(total);
  const start = performance.now() + 5;
  for (let i = 0; i < total; i++) intended[i] = start + (i * 1000) / rate;
  const done = new Promise<void>((resolveDone) => {
    const tick = () => {
      const now = performance.now();
      while ((tracker.sent[0] as number) < total && (intended[tracker.sent[0] as number] as number) <= now) {
        sendNext(tracker, ws, 0);
      }
      const next = tracker.sent[0] as number;
      if (next < total) setTimeout(tick, Math.max(0, (intended[next] as number) - performance.now()));
      else resolveDone();
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  return { intended, done };
}

function quotasFor(total: number, publishers: number): number[] {
  return Array.from(
    { length: publishers },
    (_v, k) => Math.floor(total / publishers) + (k < total % publishers ? 1 : 0),
  );
}

function* latencySamples(tracker: Tracker, pick: (n: number) => number): Generator<number> {
  for (let n = 0; n < (tracker.quotas[0] as number); n++) {
    if (tracker.ackedAndDelivered(n)) yield pick(n);
  }
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

async function measure(spec: ScenarioSpec, publishers: readonly WebSocket[]): Promise<LoadResult> {
  const timed = spec.kind === 'latency';
  const total = spec.kind === 'throughput' ? spec.count : Math.round((spec.rate * spec.durationMs) / 1000);
  const tracker = new Tracker(spec.label, quotasFor(total, publishers.length), timed);
  trackers.set(spec.label, tracker);
  tell('start');
  const cpu = process.cpuUsage();
  let timedOut: boolean;
  let intended: Float64Array | undefined;
  if (spec.kind === 'throughput') {
    const finished = completion(tracker, config.timeoutMs);
    pump(tracker, publishers, spec.window);
    timedOut = await finished;
  } else {
    const plan = timetable(tracker, publishers[0] as WebSocket, spec.rate);
    intended = plan.intended;
    await plan.done;
    timedOut = await completion(tracker, config.timeoutMs);
  }
  const loadCpuMs = cpuMsSince(cpu);
  tell('end');
  await delay(DUPLICATE_GRACE_MS);
  const integrity = tracker.integrity(timedOut);
  if (spec.kind === 'throughput') {
    const toAck = tracker.lastAck - tracker.firstSend;
    const toDelivery = tracker.lastDelivery - tracker.firstSend;
    return {
      kind: 'throughput',
      spec,
      ackedPerSec: perSecond(tracker.ackedCount, toAck),
      deliveredPerSec: perSecond(tracker.deliveredUnique, toDelivery),
      firstSendToLastAckMs: toAck,
      firstSendToLastDeliveryMs: toDelivery,
      firstSendAt: tracker.firstSend + monotonicOffset,
      lastDeliveryAt: tracker.lastDelivery + monotonicOffset,
      integrity,
      loadCpuMs,
    };
  }
  const plan = intended as Float64Array;
  const sentAt = tracker.sentAt as Float64Array;
  const ackAt = tracker.ackAt as Float64Array;
  const deliveredAt = tracker.deliveredAt as Float64Array;
  return {
    kind: 'latency',
    spec,
    sentPerSec: perSecond(tracker.sentCount, (sentAt[total - 1] ?? Number.NaN) - (plan[0] ?? Number.NaN)),
    delivery: latencySummary(latencySamples(tracker, (n) => (deliveredAt[n] as number) - (plan[n] as number))),
    deliveryFromActualSend: latencySummary(
      latencySamples(tracker, (n) => (deliveredAt[n] as number) - (sentAt[n] as number)),
    ),
    ack: latencySummary(latencySamples(tracker, (n) => (ackAt[n] as number) - (plan[n] as number))),
    sendLag: latencySummary(Array.from(sentAt.subarray(0, tracker.sentCount), (at, n) => at - (plan[n] as number))),
    integrity,
    loadCpuMs,
  };
}

async function main(): Promise<void> {
  const { scenario } = config;
  const subscriber = await open(config.subscribeUrl);
  subscriber.on('message', onSubscriberFrame);
  const isSubscribed = new Promise<void>((resolveSub) => (subscribed = resolveSub));
  subscriber.send(`sub ${TOPIC}`);
  await isSubscribed;

  const count = scenario.kind === 'throughput' ? scenario.publishers : 1;
  const publishers = await Promise.all(Array.from({ length: count }, () => open(config.publishUrl)));
  publishers.forEach((ws, k) => ws.on('message', (data: RawData) => onPublisherFrame(k, data)));

  // Warm-up: the whole chain is connected (the publisher and subscriber services dial the
  // msgqueue on their own) and JIT-compiled before anything is measured.
  const warm = new Tracker(`${scenario.label}w`, quotasFor(config.warmup, count));
  trackers.set(warm.label, warm);
  const warmed = completion(warm, Math.min(config.timeoutMs, WARMUP_TIMEOUT_MS));
  pump(warm, publishers, config.warmupWindow);
  if (await warmed) fail(`warm-up did not complete: ${JSON.stringify(warm.integrity(true))}`);

  const result = await measure(scenario, publishers);
  report({ ...result, foreignDeliveries: foreign });

  closing = true;
  await Promise.race([
    Promise.all(
      [subscriber, ...publishers].map(async (ws) => {
        const closed = once(ws, 'close');
        ws.close(1000, 'bench done');
        await closed;
      }),
    ),
    delay(CLOSE_WAIT_MS),
  ]);
  process.exit(0);
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
