/**
 * A sink, run as its own process by scenario.ts for fan-out scenarios: `node --import tsx bench/sink.ts '<SinkConfig JSON>'`.
 * Opens `sockets` subscribing clients (`sub bench`), prints `BENCH_EVENT ready` once all are
 * subscribed, then counts the measured batch per socket and checks each publisher's order per
 * socket. Prints one `BENCH_RESULT <json>` line when every socket has the whole batch, on SIGTERM
 * (the driver stops waiting), or at its own timeout.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocket, type RawData } from 'ws';
import { monotonicMs } from './stats.js';
import { idOf, parseId } from './tracker.js';
import { childConfig, childFailed, report, tell } from './child.js';
import { TOPIC, type SinkConfig, type SinkResult } from './types.js';

const config = childConfig<SinkConfig>();
const ca = readFileSync(config.caFile, 'utf8');
const CLOSE_WAIT_MS = 2_000;

const counts = new Array<number>(config.sockets).fill(0);
/** Per socket and publisher, the number of the last message delivered. */
const last = Array.from({ length: config.sockets }, () => new Int32Array(config.publishers).fill(-1));
const closed: Record<string, number> = {};
let reordered = 0;
let complete = 0;
let firstDeliveryAt = Number.NaN;
let lastDeliveryAt = Number.NaN;
let finished = false;
/** Ends the sink; set once every socket is open. */
let done: () => void = () => undefined;

function onFrame(socket: number, data: RawData): void {
  const id = idOf((data as Buffer).toString());
  const parsed = id === undefined ? undefined : parseId(id);
  if (parsed === undefined || parsed.label !== config.label) return;
  const now = monotonicMs();
  if (Number.isNaN(firstDeliveryAt)) firstDeliveryAt = now;
  lastDeliveryAt = now;
  const order = last[socket] as Int32Array;
  if (parsed.n <= (order[parsed.publisher] ?? Number.MAX_SAFE_INTEGER)) reordered++;
  else order[parsed.publisher] = parsed.n;
  const count = (counts[socket] as number) + 1;
  counts[socket] = count;
  if (count === config.expected && ++complete === config.sockets) done();
}

async function open(socket: number): Promise<WebSocket> {
  const ws = new WebSocket(config.subscribeUrl, { ca, auth: config.auth, perMessageDeflate: false });
  await once(ws, 'open');
  const subscribed = new Promise<void>((resolveSub) => {
    ws.once('message', (data: RawData) => {
      const frame = (data as Buffer).toString();
      if (!frame.startsWith('{"type":"subscribed"')) fail(`socket ${socket}: expected subscribed, got ${frame}`);
      ws.on('message', (next: RawData) => onFrame(socket, next));
      resolveSub();
    });
  });
  ws.on('close', (code: number) => {
    if (!finished) closed[code] = (closed[code] ?? 0) + 1;
  });
  ws.send(`sub ${TOPIC}`);
  await subscribed;
  return ws;
}

const fail: (message: string) => never = (message) => childFailed('sink', message);

/**
 * Reports (incomplete when some socket lacks messages: the driver gave up waiting, or the sink's
 * own timeout hit), then closes every open socket normally, bounded, so the server sees clients
 * leave rather than fail.
 */
async function finish(sockets: readonly WebSocket[]): Promise<void> {
  if (finished) return;
  finished = true;
  const timedOut = complete < config.sockets;
  const { user, system } = process.cpuUsage();
  const cpuMs = (user + system) / 1000;
  const result: SinkResult = { counts, reordered, closed, firstDeliveryAt, lastDeliveryAt, timedOut, cpuMs };
  report(result);
  const closing = sockets
    .filter((ws) => ws.readyState === WebSocket.OPEN)
    .map(async (ws) => {
      const closedNow = once(ws, 'close');
      ws.close(1000, 'bench done');
      await closedNow;
    });
  await Promise.race([Promise.all(closing), delay(CLOSE_WAIT_MS)]);
  process.exit(0);
}

const sockets = await Promise.all(Array.from({ length: config.sockets }, (_v, socket) => open(socket))).catch(
  (err: unknown) => fail(err instanceof Error ? err.message : String(err)),
);
done = () => void finish(sockets);
process.once('SIGTERM', done);
setTimeout(done, config.timeoutMs);
tell('ready');
