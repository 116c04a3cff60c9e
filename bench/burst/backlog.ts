/**
 * The burst's sockets, run as its own process by bench/burst/run.ts:
 * `node --import tsx bench/burst/backlog.ts '<BacklogConfig JSON>'`.
 * Two readers on one topic and one publisher. The stalled reader pauses its socket (the kernel
 * stops reading it, so the subscriber's unsent bytes for it grow) while the publisher sends the
 * burst as fast as acks allow; the normal reader reads throughout. Steps, each on SIGUSR2 from
 * the driver so it can read the subscriber's memory and start other load in between:
 *   warm-up (with a stall), `BENCH_EVENT ready` → SIGUSR2 → burst, `BENCH_EVENT burst <json>`
 *   → SIGUSR2 → resume the stalled reader, `BENCH_RESULT <json>` once it has the whole burst.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { monotonicMs, perSecond } from '../stats.js';
import { settlesWithin } from '@pubsub/testkit';
import { Batch, completion, Publisher, Reader } from './clients.js';
import { childConfig, childFailed, report, tell } from '../child.js';
import { type BacklogConfig, type BurstResult, type CatchUpResult } from './types.js';

/** Time after completion during which late duplicates are still counted. */
const DUPLICATE_GRACE_MS = 300;
const CLOSE_WAIT_MS = 2_000;

const config = childConfig<BacklogConfig>();

const fail: (message: string) => never = (message) => childFailed('burst backlog', message);

/** Resolves when the batch is complete or the socket closed (then what is missing is lost); true if timed out. */
async function filled(reader: Reader, batch: Batch, ms: number): Promise<boolean> {
  return Promise.race([completion(batch, ms), reader.closed.then(() => false)]);
}

/** One stall: pause, publish `count`, wait for the normal reader; the stalled one still paused. */
async function stall(
  clients: { normal: Reader; stalled: Reader; publisher: Publisher },
  { label, count }: { label: string; count: number },
) {
  const { publisher, ...readers } = clients;
  const normal = readers.normal.expect(new Batch(label, count));
  const stalled = readers.stalled.expect(new Batch(label, count));
  if (config.pause) readers.stalled.ws.pause();
  const published = settlesWithin(publisher.burst(label, count, config.window), config.timeoutMs).then(
    (settled) => !settled,
  );
  const delivered = filled(readers.normal, normal, config.timeoutMs);
  const timedOut = (await published) || (await delivered);
  return { normal, stalled, timedOut };
}

async function resume(reader: Reader, batch: Batch): Promise<{ resumedAt: number; timedOut: boolean }> {
  const resumedAt = monotonicMs();
  reader.ws.resume();
  return { resumedAt, timedOut: await filled(reader, batch, config.timeoutMs) };
}

const signalled = () => once(process, 'SIGUSR2');

async function main(): Promise<void> {
  const { topic } = config;
  const [normal, stalled, publisher] = await Promise.all([
    Reader.open(config, topic),
    Reader.open(config, topic),
    Publisher.open(config, topic),
  ]);
  const clients = { normal, stalled, publisher };
  let go = signalled();

  // Warm-up: the same stall on a smaller scale, so what is measured next is not first-time costs.
  const warm = await stall(clients, { label: `${config.label}w`, count: config.warmup });
  const warmResumed = await resume(stalled, warm.stalled);
  if (warm.timedOut || warmResumed.timedOut || normal.closedWith !== undefined || stalled.closedWith !== undefined) {
    fail(`warm-up did not complete: normal ${warm.normal.unique}, stalled ${warm.stalled.unique} of ${config.warmup}`);
  }
  tell('ready');

  await go;
  go = signalled();
  const burst = await stall(clients, { label: config.label, count: config.count });
  const burstResult: BurstResult = {
    sent: publisher.sent - config.warmup,
    acked: publisher.acked - config.warmup,
    refused: publisher.refused,
    firstSendAt: publisher.startedAt,
    normalLastAt: burst.normal.lastAt,
    normalPerSec: perSecond(burst.normal.unique, burst.normal.lastAt - publisher.startedAt),
    ackedPerSec: perSecond(publisher.acked - config.warmup, publisher.lastAckAt - publisher.startedAt),
    normal: burst.normal.integrity(config.count, normal.closedWith),
    stalledBeforeResume: burst.stalled.unique,
    timedOut: burst.timedOut,
  };
  tell('burst', burstResult);

  await go;
  const caughtUp = await resume(stalled, burst.stalled);
  await delay(DUPLICATE_GRACE_MS);
  const acked = publisher.acked - config.warmup;
  const result: CatchUpResult = {
    stalled: burst.stalled.integrity(acked, stalled.closedWith),
    resumedAt: caughtUp.resumedAt,
    lastAt: burst.stalled.lastAt,
    perSec: perSecond(burst.stalled.unique, burst.stalled.lastAt - caughtUp.resumedAt),
    timedOut: caughtUp.timedOut,
    normal: burst.normal.integrity(acked, normal.closedWith),
  };
  report(result);
  publisher.ws.close();
  await Promise.race([Promise.all([normal.close(), stalled.close()]), delay(CLOSE_WAIT_MS)]);
  process.exit(0);
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
