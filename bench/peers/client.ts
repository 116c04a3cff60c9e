/**
 * A client process of the peers section: `node --import tsx bench/peers/client.ts '<PeerClientConfig JSON>'`.
 * `publish`: opens the publisher connections, warms up, prints `BENCH_EVENT start`, sends the
 * measured messages with at most `window` unacknowledged per connection, prints `BENCH_RESULT`.
 * `subscribe`: subscribes, prints `BENCH_EVENT ready`, counts the measured messages (exactly once,
 * in each publisher's order) and prints `BENCH_RESULT` once it has them all. Both then stay up
 * until the driver stops them, so it can read their CPU time from /proc.
 */
import { CONTENT } from '../types.js';
import { monotonicMs, perSecond } from '../stats.js';
import { idOf } from '../tracker.js';
import { openPublisher, subscribe, type PublishLink } from './links.js';
import { childConfig, childFailed, report, tell } from '../child.js';
import { type PeerClientConfig, type PublishResult, type SubscribeResult } from './types.js';

const config = childConfig<PeerClientConfig>();
const TOPIC = config.endpoint.system === 'suite' ? config.endpoint.topic : 'peers';

const fail: (message: string) => never = (message) => childFailed(`peers ${config.role} client`, message);

/** Closed on SIGTERM, so the systems see a client leave rather than a reset. */
const closers: (() => Promise<void>)[] = [];
process.once('SIGTERM', () => {
  const bounded = new Promise((resolve) => setTimeout(resolve, 2_000));
  void Promise.race([Promise.allSettled(closers.map((close) => close())), bounded]).then(() => process.exit(0));
});

const bodyOf = (id: string) => `{"topic":"${TOPIC}","content":${CONTENT},"id":"${id}"}`;
const share = (total: number, k: number) =>
  Math.floor(total / config.publishers) + (k < total % config.publishers ? 1 : 0);

/** Sends `quota` messages on one link, at most `window` unacknowledged; resolves after the last ack. */
function drive(
  link: PublishLink,
  quota: number,
  ids: { idOf: (n: number) => string; onAck: () => void },
): Promise<void> {
  const { idOf, onAck } = ids;
  return new Promise((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    const topUp = () => {
      while (sent < quota && sent - acked < config.window) {
        const id = idOf(sent++);
        link.publish(id, bodyOf(id)).then(() => {
          acked++;
          onAck();
          if (acked === quota) resolve();
          else topUp();
        }, reject);
      }
    };
    if (quota === 0) resolve();
    else topUp();
  });
}

async function publishRole(): Promise<void> {
  const credentials = config;
  const links = await Promise.all(
    Array.from({ length: config.publishers }, () => openPublisher(config.endpoint, credentials)),
  );
  closers.push(...links.map((link) => () => link.close()));
  await Promise.all(
    links.map((link, k) =>
      drive(link, share(config.warmup, k), { idOf: (n) => `${config.label}w-${k}-${n}`, onAck: () => undefined }),
    ),
  );
  tell('start');
  let acked = 0;
  let lastAckAt = Number.NaN;
  const firstSendAt = monotonicMs();
  const all = Promise.all(
    links.map((link, k) =>
      drive(link, share(config.count, k), {
        idOf: (n) => `${config.label}-${k}-${n}`,
        onAck: () => {
          acked++;
          lastAckAt = monotonicMs();
        },
      }),
    ),
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    all.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), config.timeoutMs))),
  ]);
  clearTimeout(timer);
  const result: PublishResult = {
    acked,
    firstSendAt,
    lastAckAt,
    ackedPerSec: perSecond(acked, lastAckAt - firstSendAt),
    timedOut,
  };
  report(result);
}

async function subscribeRole(): Promise<void> {
  const prefix = `${config.label}-`;
  const seen = Array.from({ length: config.publishers }, (_v, k) => new Uint8Array(share(config.count, k)));
  const lastOf = new Array<number>(config.publishers).fill(-1);
  let delivered = 0;
  let duplicated = 0;
  let reordered = 0;
  let firstDeliveryAt = Number.NaN;
  let lastDeliveryAt = Number.NaN;
  let finish: (timedOut: boolean) => void = () => undefined;
  const done = new Promise<boolean>((resolve) => (finish = resolve));
  const subscription = await subscribe(config.endpoint, config, {
    deliver(payload) {
      const id = idOf(payload);
      if (id === undefined) fail(`a delivery without an id: ${payload.slice(0, 200)}`);
      if (!id.startsWith(prefix)) return;
      const now = monotonicMs();
      const dash = id.indexOf('-', prefix.length);
      const [k, n] = [Number(id.slice(prefix.length, dash)), Number(id.slice(dash + 1))];
      const marks = seen[k];
      if (marks === undefined || !(n >= 0 && n < marks.length)) fail(`unexpected id ${id}`);
      if (Number.isNaN(firstDeliveryAt)) firstDeliveryAt = now;
      if (n <= (lastOf[k] as number)) reordered++;
      lastOf[k] = Math.max(lastOf[k] as number, n);
      if (marks[n] === 1) {
        duplicated++;
        return;
      }
      marks[n] = 1;
      delivered++;
      lastDeliveryAt = now;
      if (delivered === config.count) finish(false);
    },
    lost: (why) => fail(why),
  });
  closers.push(() => subscription.close());
  tell('ready');
  // The clock starts when the publisher's first measured message could arrive: bounded from here.
  const timer = setTimeout(() => finish(true), config.timeoutMs + 60_000);
  const timedOut = await done;
  clearTimeout(timer);
  const result: SubscribeResult = { delivered, duplicated, reordered, firstDeliveryAt, lastDeliveryAt, timedOut };
  report(result);
}

try {
  await (config.role === 'publish' ? publishRole() : subscribeRole());
} catch (err) {
  fail((err as Error).stack ?? String(err));
}
// Up until the driver has read this process's CPU time and stops it.
setInterval(() => undefined, 60_000);
