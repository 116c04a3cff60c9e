/**
 * The go-original section's client: `node --import tsx bench/peers/go-client.ts '<GoClientConfig JSON>'`,
 * the same for the Go services and for ours. It speaks the original's wire format, which ours
 * accepts too: `{"Topic":…,"Content":"sub"}` on `/subscribe`, `{"Topic":…,"Content":"<100 characters>"}`
 * on one `/publish` socket. The original confirms nothing, so it sends probes until one is
 * delivered, warms up, prints `BENCH_EVENT warm` and waits for SIGUSR2 (the driver reads the services'
 * CPU first), sends the measured messages, prints `BENCH_RESULT` and exits. Deliveries pace both
 * systems (the original never acks; ours' acks are read and ignored).
 */
import { once } from 'node:events';
import { CONTENT } from '../types.js';
import { monotonicMs } from '../stats.js';
import { openWs } from './links.js';
import { childConfig, childFailed, report, tell } from '../child.js';
import type { GoClientConfig, GoClientResult } from './types.js';

const config = childConfig<GoClientConfig>();
const PROBE_INTERVAL_MS = 50;

const fail: (message: string) => never = (message) => childFailed('go-original client', message);

type Kind = 'p' | 'w' | 'm';
/**
 * `#<kind><9 digits>#` and the rest of the bench's 100 characters: the number comes back in either
 * system's delivery frame (the original forwards the bytes, ours wraps the content), found by its `#`.
 */
const FILLER = (JSON.parse(CONTENT) as string).slice(12);
const bodyOf = (kind: Kind, n: number) =>
  `{"Topic":"${config.topic}","Content":"#${kind}${String(n).padStart(9, '0')}#${FILLER}"}`;

const publisher = await openWs(config.publishUrl, config);
const subscriber = await openWs(config.subscribeUrl, config);
let ending = false;
for (const [name, ws] of [
  ['publish', publisher],
  ['subscribe', subscriber],
] as const) {
  ws.on('close', (code: number) => {
    if (!ending) fail(`the ${name} socket closed ${code}`);
  });
  ws.on('error', (err: Error) => {
    if (!ending) fail(`the ${name} socket failed: ${err.message}`);
  });
}

let onDelivery: (kind: string, n: number) => void = () => undefined;
subscriber.on('message', (data: Buffer) => {
  const text = data.toString();
  const at = text.indexOf('#');
  // Ours also confirms the subscription: a frame without a number.
  if (at >= 0) onDelivery(text.charAt(at + 1), Number(text.slice(at + 2, at + 11)));
});

/** Probes until one is delivered: from then on the subscription is in place on either system. */
async function subscribed(): Promise<void> {
  subscriber.send(`{"Topic":"${config.topic}","Content":"sub"}`);
  let n = 0;
  const probe = () => publisher.send(bodyOf('p', n++));
  const timer = setInterval(probe, PROBE_INTERVAL_MS);
  const bound = setTimeout(() => fail(`no probe delivered within ${config.timeoutMs} ms`), config.timeoutMs);
  probe();
  await new Promise<void>((resolve) => (onDelivery = (kind) => kind === 'p' && resolve()));
  clearInterval(timer);
  clearTimeout(bound);
}

/** Sends `count` messages of `kind` with at most `window` sent and not delivered, until all are delivered or the bound. */
function phase(kind: 'w' | 'm', count: number): Promise<GoClientResult> {
  const seen = new Uint8Array(count);
  let [sent, delivered, duplicated, reordered, last] = [0, 0, 0, 0, -1];
  let [firstDeliveryAt, lastDeliveryAt] = [Number.NaN, Number.NaN];
  const topUp = () => {
    while (sent < count && sent - delivered < config.window) publisher.send(bodyOf(kind, sent++));
  };
  return new Promise((resolve) => {
    const firstSendAt = monotonicMs();
    const finish = (timedOut: boolean) => {
      clearTimeout(bound);
      onDelivery = () => undefined;
      resolve({ delivered, duplicated, reordered, firstSendAt, firstDeliveryAt, lastDeliveryAt, timedOut });
    };
    const bound = setTimeout(() => finish(true), config.timeoutMs);
    onDelivery = (got, n) => {
      if (got !== kind) return;
      if (!(n >= 0 && n < count)) fail(`unexpected number ${n}`);
      if (n <= last) reordered++;
      last = Math.max(last, n);
      if (seen[n] === 1) {
        duplicated++;
        return;
      }
      seen[n] = 1;
      delivered++;
      lastDeliveryAt = monotonicMs();
      if (delivered === 1) firstDeliveryAt = lastDeliveryAt;
      if (delivered === count) finish(false);
      else topUp();
    };
    topUp();
  });
}

await subscribed();
const warm = await phase('w', config.warmup);
if (warm.timedOut) fail(`warm-up: ${warm.delivered} of ${config.warmup} delivered within ${config.timeoutMs} ms`);
const go = once(process, 'SIGUSR2');
tell('warm');
await go;
const result = await phase('m', config.count);
report(result);
ending = true;
// The original never closes a socket, not even after a close handshake: no point waiting for it.
publisher.terminate();
subscriber.terminate();
process.exit(0);
