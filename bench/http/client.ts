/**
 * The HTTP section's load, run as its own process by bench/http/index.ts:
 * `node --import tsx bench/http/client.ts '<HttpConfig JSON>'`.
 * One `/subscribe` socket and one `GET /events` stream on the topic; then, after a warm-up of
 * each way in, N messages published on one wss socket (window of unacked), N as single-message
 * `POST /api/messages` and N in batches, each on a keep-alive agent with a few requests in
 * flight. Prints `BENCH_RESULT <json>`.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { PubsubGrpcClient, type SubscribeEvent } from '@pubsub/grpc';
import { WebSocket, type RawData } from 'ws';
import { childConfig, childFailed, report } from '../child.js';
import { monotonicMs, perSecond } from '../stats.js';
import { idOf } from '../tracker.js';
import { CONTENT } from '../types.js';
import { windowed } from '../window.js';
import { settlesWithin } from '@pubsub/testkit';
import { Batch, completion, Reader } from '../burst/clients.js';
import { type DeliveryFigures, type HttpConfig, type HttpResult, type PublishFigures } from './types.js';

const config = childConfig<HttpConfig>();
const ca = readFileSync(config.caFile, 'utf8');
const authorization = `Basic ${Buffer.from(config.auth).toString('base64')}`;

const fail: (message: string) => never = (message) => childFailed('http client', message);

const note = (text: string) => process.stderr.write(`http client: ${text}\n`);
const message = (id: string) => `{"topic":"${config.topic}","content":${CONTENT},"id":"${id}"}`;

/** A `GET /events` stream; frames go to the batch whose label their id carries. */
class SseReader {
  readonly batches = new Map<string, Batch>();
  #rest = '';

  static async open(): Promise<SseReader> {
    const reader = new SseReader();
    const url = new URL(`/events?topic=${encodeURIComponent(config.topic)}`, config.subscribeBase);
    const res = await new Promise<IncomingMessage>((resolveRes, reject) => {
      const req = request(url, { ca, headers: { authorization, accept: 'text/event-stream' } }, resolveRes);
      req.on('error', reject);
      req.end();
    });
    if (res.statusCode !== 200) throw new Error(`GET /events: ${res.statusCode}`);
    res.setEncoding('utf8');
    const subscribed = new Promise<void>((resolveSub) => {
      // The `subscribed` notice, or whatever the stream starts with should it come first (the
      // subscription is in place once the head is sent); the warm-up waits for deliveries anyway.
      const look = (chunk: string) => {
        if (!chunk.includes('event: subscribed') && !chunk.includes('retry:')) return;
        res.off('data', look);
        resolveSub();
      };
      res.on('data', look);
    });
    res.on('data', (chunk: string) => reader.#onChunk(chunk));
    await subscribed;
    return reader;
  }

  expect(batch: Batch): Batch {
    this.batches.set(batch.label, batch);
    return batch;
  }

  #onChunk(chunk: string): void {
    const lines = (this.#rest + chunk).split('\n');
    this.#rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('data: {"type":"message"')) continue;
      const id = idOf(line);
      if (id === undefined) continue;
      const dash = id.lastIndexOf('-');
      this.batches.get(id.slice(0, dash))?.take(Number(id.slice(dash + 1)));
    }
  }
}

/** A `Subscriber.Subscribe` stream; messages go to the batch whose label their id carries. */
class GrpcReader {
  readonly batches = new Map<string, Batch>();
  readonly #client: PubsubGrpcClient;

  private constructor(client: PubsubGrpcClient) {
    this.#client = client;
  }

  static async open(): Promise<GrpcReader> {
    const [user = '', password = ''] = config.auth.split(':');
    const reader = new GrpcReader(new PubsubGrpcClient(config.grpcTarget, { ca, auth: { user, password } }));
    const call = reader.#client.subscribe({ topics: [config.topic] });
    await new Promise<void>((resolveSub, reject) => {
      call.once('error', reject);
      call.on('data', (event: SubscribeEvent) => {
        if (event.event === 'subscribed') resolveSub();
        if (event.event !== 'message') return;
        const { id } = event.message;
        const dash = id.lastIndexOf('-');
        reader.batches.get(id.slice(0, dash))?.take(Number(id.slice(dash + 1)));
      });
    });
    return reader;
  }

  expect(batch: Batch): Batch {
    this.batches.set(batch.label, batch);
    return batch;
  }

  close(): void {
    this.#client.close();
  }
}

/** N messages on one publishing socket, at most `window` unacknowledged. */
async function wssPublish(ws: WebSocket, label: string, count: number): Promise<PublishFigures> {
  let answer: (ok: boolean) => void = () => undefined;
  const onAnswer = (data: RawData) => answer((data as Buffer).toString().startsWith('{"type":"ack"'));
  ws.on('message', onAnswer);
  const { window, timeoutMs } = config;
  const result = await windowed({ count, window, timeoutMs }, (n, answered) => {
    answer = answered;
    ws.send(message(`${label}-${n}`));
  });
  ws.off('message', onAnswer);
  const { sent, acked, refused, timedOut } = result;
  const spanMs = result.lastAnswerAt - result.firstSendAt;
  return { sent, acked, refused, requests: sent, spanMs, perSec: perSecond(acked, spanMs), timedOut };
}

function post(agent: Agent, body: string): Promise<{ status: number; text: string }> {
  const url = new URL('/api/messages', config.publishBase);
  const options: RequestOptions = {
    method: 'POST',
    agent,
    headers: { authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  };
  return new Promise((resolvePost) => {
    const req = request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolvePost({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', () => resolvePost({ status: 0, text: '' }));
    });
    req.on('error', (err) => resolvePost({ status: 0, text: err.message }));
    req.end(body);
  });
}

/** N messages as `POST /api/messages`, `perRequest` each (1: a single object), `inFlight` at once. */
async function httpPublish(
  agent: Agent,
  { label, count, perRequest }: { label: string; count: number; perRequest: number },
): Promise<PublishFigures> {
  let sent = 0;
  let acked = 0;
  let refused = 0;
  let requests = 0;
  let lastAt = Number.NaN;
  let firstError: string | undefined;
  const startedAt = monotonicMs();
  const worker = async () => {
    while (sent < count) {
      const ids: string[] = [];
      while (ids.length < perRequest && sent < count) ids.push(`${label}-${sent++}`);
      const body = perRequest === 1 ? message(ids[0] ?? '') : `[${ids.map(message).join(',')}]`;
      requests++;
      const { status, text } = await post(agent, body);
      lastAt = monotonicMs();
      if (status === 200) acked += ids.length;
      else {
        refused += ids.length;
        firstError ??= `${status} ${text.slice(0, 200)}`;
      }
    }
  };
  const done = Promise.all(Array.from({ length: config.inFlight }, worker));
  const timedOut = !(await settlesWithin(done, config.timeoutMs));
  if (firstError !== undefined) process.stderr.write(`http client: ${label}: first refusal ${firstError}\n`);
  const spanMs = lastAt - startedAt;
  return { sent, acked, refused, requests, spanMs, perSec: perSecond(acked, spanMs), timedOut };
}

function delivery(
  batch: Batch,
  { acked, startedAt, timedOut }: { acked: number; startedAt: number; timedOut: boolean },
): DeliveryFigures {
  const i = batch.integrity(acked, undefined);
  const spanMs = batch.lastAt - startedAt;
  return {
    received: i.received,
    lost: i.lost,
    duplicated: i.duplicated,
    reordered: i.reordered,
    spanMs,
    perSec: perSecond(batch.unique, spanMs),
    timedOut,
  };
}

/** Publishes on the socket while both readers take the same stream. */
async function wssPhase(
  ws: WebSocket,
  readers: { wss: Reader; sse: SseReader; grpc: GrpcReader },
  { label, count }: { label: string; count: number },
) {
  const wssBatch = readers.wss.expect(new Batch(label, count));
  const sseBatch = readers.sse.expect(new Batch(label, count));
  const grpcBatch = readers.grpc.expect(new Batch(label, count));
  const done = [wssBatch, sseBatch, grpcBatch].map((batch) => completion(batch, config.timeoutMs));
  const startedAt = monotonicMs();
  const publish = await wssPublish(ws, label, count);
  const [wssLate, sseLate, grpcLate] = await Promise.all(done);
  return {
    publish,
    wss: delivery(wssBatch, { acked: publish.acked, startedAt, timedOut: wssLate === true }),
    sse: delivery(sseBatch, { acked: publish.acked, startedAt, timedOut: sseLate === true }),
    grpc: delivery(grpcBatch, { acked: publish.acked, startedAt, timedOut: grpcLate === true }),
  };
}

async function main(): Promise<void> {
  const [wss, sse, grpc] = await Promise.all([Reader.open(config, config.topic), SseReader.open(), GrpcReader.open()]);
  note('readers open');
  const ws = new WebSocket(config.publishUrl, { ca, auth: config.auth, perMessageDeflate: false });
  await once(ws, 'open');
  const agent = new Agent({ keepAlive: true, maxSockets: config.inFlight, ca });
  const readers = { wss, sse, grpc };
  const { label, count, batch } = config;

  // Warm-up of every path (JIT, TLS sessions, the agent's sockets); nothing of it is counted.
  const warm = Math.min(2_000, count);
  await wssPhase(ws, readers, { label: `${label}w`, count: warm });
  await httpPublish(agent, { label: `${label}w1`, count: Math.min(200, count), perRequest: 1 });
  await httpPublish(agent, { label: `${label}wb`, count: warm, perRequest: batch });

  note('warmed up');
  const measured = await wssPhase(ws, readers, { label: `${label}ws`, count });
  const httpSingle = await httpPublish(agent, { label: `${label}h1`, count: config.singleCount, perRequest: 1 });
  const httpBatch = await httpPublish(agent, { label: `${label}hb`, count, perRequest: batch });
  const result: HttpResult = {
    count,
    wss: measured.publish,
    httpSingle,
    httpBatch,
    wssDelivery: measured.wss,
    sseDelivery: measured.sse,
    grpcDelivery: measured.grpc,
  };
  report(result);
  agent.destroy();
  grpc.close();
  ws.close();
  await wss.close();
  process.exit(0);
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
