/**
 * A steady stream on a topic of its own, run as its own process by bench/burst/run.ts:
 * `node --import tsx bench/burst/steady.ts '<SteadyConfig JSON>'`.
 * One publisher at a fixed rate and one reader: the publish→delivery latency an unrelated reader
 * sees. Its own process, so another socket's catch-up does not share this event loop and what
 * moves the latency is the chain, not this client. Warms up, prints `BENCH_EVENT ready`, starts
 * the timetable on SIGUSR2, stops on SIGTERM (or after maxMs), prints `BENCH_RESULT <json>`.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { latencySummary } from '../histogram.js';
import { monotonicMs } from '../stats.js';
import { settlesWithin } from '@pubsub/testkit';
import { Batch, completion, Publisher, Reader } from './clients.js';
import { childConfig, childFailed, report, tell } from '../child.js';
import { type SteadyConfig, type SteadyResult } from './types.js';

const WARMUP = 500;
const WARMUP_TIMEOUT_MS = 20_000;
/** After the window, how long the last messages may take to arrive before they count as lost. */
const DRAIN_MS = 5_000;
const CLOSE_WAIT_MS = 2_000;

const config = childConfig<SteadyConfig>();

const fail: (message: string) => never = (message) => childFailed('burst steady', message);

/**
 * Message i is due at `start + i / rate`; every message whose time has come is sent, late ones
 * at once, never skipping (coordinated omission: a stalled chain's wait counts). Runs until `stop`.
 */
function timetable(publisher: Publisher, intended: Float64Array, stop: Promise<unknown>): Promise<number> {
  const start = monotonicMs() + 5;
  for (let i = 0; i < intended.length; i++) intended[i] = start + (i * 1000) / config.rate;
  let stopped = false;
  void stop.then(() => (stopped = true));
  return new Promise((resolveSent) => {
    let sent = 0;
    const tick = () => {
      const now = monotonicMs();
      while (!stopped && sent < intended.length && (intended[sent] as number) <= now) {
        publisher.send(`${config.label}-${sent}`);
        sent++;
      }
      if (stopped || sent >= intended.length) resolveSent(sent);
      else setTimeout(tick, Math.max(0, (intended[sent] as number) - monotonicMs()));
    };
    setTimeout(tick, 5);
  });
}

async function main(): Promise<void> {
  const [reader, publisher] = await Promise.all([
    Reader.open(config, config.topic),
    Publisher.open(config, config.topic),
  ]);
  const go = once(process, 'SIGUSR2');
  const stop = Promise.race([once(process, 'SIGTERM'), go.then(() => delay(config.maxMs))]);

  const warm = reader.expect(new Batch(`${config.label}w`, WARMUP));
  const warmed = completion(warm, WARMUP_TIMEOUT_MS);
  await publisher.burst(`${config.label}w`, WARMUP, 100);
  if (await warmed) fail(`warm-up did not complete: ${warm.unique} of ${WARMUP}`);
  tell('ready');

  await go;
  const capacity = Math.ceil((config.rate * config.maxMs) / 1000) + 1;
  const batch = reader.expect(new Batch(config.label, capacity, true));
  const intended = new Float64Array(capacity);
  const began = monotonicMs();
  const sent = await timetable(publisher, intended, stop);
  const windowMs = monotonicMs() - began;
  batch.expected = sent;
  await settlesWithin(Promise.race([completion(batch, DRAIN_MS), reader.closed]), DRAIN_MS);
  const at = batch.at as Float64Array;
  const latencies = function* () {
    for (let n = 0; n < sent; n++) if ((at[n] as number) > 0) yield (at[n] as number) - (intended[n] as number);
  };
  const summary = latencySummary(latencies());
  const result: SteadyResult = {
    sent,
    windowMs,
    p50: summary.p50,
    p99: summary.p99,
    p999: summary.p999,
    max: summary.max,
    samples: summary.samples,
    reader: batch.integrity(sent, reader.closedWith),
  };
  report(result);
  publisher.ws.close();
  await Promise.race([reader.close(), delay(CLOSE_WAIT_MS)]);
  process.exit(0);
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
