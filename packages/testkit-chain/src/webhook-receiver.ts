import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { post, type HttpAnswer } from '@pubsub/testkit';

/** One request a receiver got. */
export interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The delivery: `{type, topic, id, content, seq, epoch, …}`. */
  readonly json: { topic: string; id: string; content: unknown; seq: number; epoch: string };
  /** The status it was answered with. */
  readonly status: number;
}

/** How the receiver answers its `n`th request (0-based): a status, and headers. */
export type Answer = (
  received: Omit<Received, 'status'>,
  n: number,
) => { status: number; headers?: Record<string, string> };

/** A webhook receiver on 127.0.0.1, port 0, recording every request in order. */
export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Resolves once it has got `count` requests in all (at once if it has). */
  until(count: number): Promise<Received[]>;
  /** Resolves with the first request (from now on, or already got) `match` accepts. */
  waitFor(match: (received: Received) => boolean): Promise<Received>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startReceiver(answer: Answer = () => ({ status: 200 })): Promise<Receiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const got = { headers: req.headers, body, json: JSON.parse(body) as Received['json'] };
      const { status, headers } = answer(got, received.length);
      received.push({ ...got, status });
      res.writeHead(status, headers).end(status >= 400 ? 'receiver says no' : '');
      for (const wake of [...waiters]) wake();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const waitFor = (match: (got: Received) => boolean) =>
    new Promise<Received>((resolveMatch) => {
      const check = () => {
        const found = received.find(match);
        if (found === undefined) return;
        waiters.delete(check);
        resolveMatch(found);
      };
      waiters.add(check);
      check();
    });
  const close = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    until: async (count) => {
      await waitFor(() => received.length >= count);
      return received;
    },
    waitFor,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** What a receiver does to check a delivery (docs/protocol.md#verifying-a-delivery). */
export function verifySignature(secret: string, body: string, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A subscription as the API shows it (docs/protocol.md#webhooks-apisubscriptions-subscriber). */
export interface SubscriptionJson {
  id: string;
  topic?: string;
  pattern?: string;
  url: string;
  user: string;
  /** Only in the answer to its creation. */
  secret?: string;
  deadLetterTopic: string;
  state: 'live' | 'behind' | 'paused';
  position: { epoch: string; offset: number } | null;
  lag: number | null;
  queued: number;
  attempt: number;
  nextAttemptAt: string | null;
  lastError: { at: string; reason: string; status: number | null } | null;
  delivered: number;
  deadLettered: number;
}

/** Any answer of the API: a subscription, a list, the topics, or an error. */
export type ApiJson = Partial<SubscriptionJson> & {
  code?: string;
  message?: string;
  subscriptions?: SubscriptionJson[];
  topics?: { topic: string; subscribers: number; messagesPerSecond: number; webhooks: number }[];
};

/** The subscriptions API of a subscriber on localhost. */
export function subscriptionsApi(port: number, ca: string, auth = 'hello:test') {
  const call = async (method: string, path: string, body?: unknown): Promise<HttpAnswer & { json: ApiJson }> => {
    const answer = await post(port, path, {
      ca,
      auth,
      method,
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { ...answer, json: answer.body === '' ? {} : (JSON.parse(answer.body) as ApiJson) };
  };
  return {
    create: (body: unknown) => call('POST', '/api/subscriptions', body),
    list: () => call('GET', '/api/subscriptions'),
    get: (id: string) => call('GET', `/api/subscriptions/${id}`),
    delete: (id: string) => call('DELETE', `/api/subscriptions/${id}`),
    topics: () => call('GET', '/api/topics'),
    /** Asks until `done` holds for the subscription (each try a real round trip, no timer). */
    async until(id: string, done: (view: SubscriptionJson) => boolean): Promise<SubscriptionJson> {
      for (;;) {
        const json = (await call('GET', `/api/subscriptions/${id}`)).json as SubscriptionJson;
        if (done(json)) return json;
        await new Promise((resolveTurn) => setImmediate(resolveTurn));
      }
    },
  };
}
