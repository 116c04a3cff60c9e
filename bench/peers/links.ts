/**
 * One publishing connection and one subscription per system, each through its official Node
 * client: `ws` for our chain (as its clients use it), `nats` for JetStream, `ioredis` for Redis
 * Streams. Every connection is TLS, verified against the bench's CA, and authenticated.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { connect, DeliverPolicy, RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import { WebSocket } from 'ws';
import type { PeerClientConfig, PeerEndpoint } from './types.js';

export interface PublishLink {
  /** Resolves once the system acknowledged the message as stored. */
  publish(id: string, body: string): Promise<void>;
  close(): Promise<void>;
}

export interface Subscription {
  close(): Promise<void>;
}

/** `deliver(payload)` for every message; `lost(why)` if the system closes the subscription. */
export interface Receiver {
  deliver(payload: string): void;
  lost(why: string): void;
}

export type Credentials = Pick<PeerClientConfig, 'caFile' | 'user' | 'password'>;

/** A `ws` client socket, open, TLS verified against the bench's CA, with Basic Auth. */
export async function openWs(url: string, credentials: Credentials): Promise<WebSocket> {
  const ws = new WebSocket(url, {
    ca: readFileSync(credentials.caFile, 'utf8'),
    auth: `${credentials.user}:${credentials.password}`,
  });
  await once(ws, 'open');
  return ws;
}

interface SuiteFrame {
  type?: string;
  id?: string;
  code?: string;
}

async function suitePublisher(url: string, credentials: Credentials): Promise<PublishLink> {
  const ws = await openWs(url, credentials);
  const waiting = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  let closing = false;
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as SuiteFrame;
    const waiter = frame.id === undefined ? undefined : waiting.get(frame.id);
    if (waiter === undefined || frame.id === undefined) return;
    waiting.delete(frame.id);
    if (frame.type === 'ack') waiter.resolve();
    else waiter.reject(new Error(`publish ${frame.id} refused: ${frame.code ?? data.toString()}`));
  });
  ws.on('close', (code: number, reason: Buffer) => {
    if (closing) return;
    for (const waiter of waiting.values()) waiter.reject(new Error(`publisher closed ${code} ${reason.toString()}`));
  });
  return {
    publish: (id, body) =>
      new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        ws.send(body);
      }),
    close: async () => {
      closing = true;
      const closed = once(ws, 'close');
      ws.close(1000, 'bench done');
      await closed;
    },
  };
}

async function suiteSubscribe(
  endpoint: Extract<PeerEndpoint, { system: 'suite' }>,
  credentials: Credentials,
  receiver: Receiver,
): Promise<Subscription> {
  const ws = await openWs(endpoint.subscribeUrl, credentials);
  let closing = false;
  let subscribed: (() => void) | undefined;
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    if (text.startsWith('{"type":"message"')) receiver.deliver(text);
    else if (text.startsWith('{"type":"subscribed"')) subscribed?.();
    else receiver.lost(`unexpected frame: ${text.slice(0, 200)}`);
  });
  // A healthy reader closed mid-run (4100 included) fails the run: that is what the issue counts.
  ws.on('close', (code: number, reason: Buffer) => {
    if (!closing) receiver.lost(`subscriber socket closed ${code} ${reason.toString()}`);
  });
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  ws.send(`sub ${endpoint.topic}`);
  await ready;
  return {
    close: async () => {
      closing = true;
      const closed = once(ws, 'close');
      ws.close(1000, 'bench done');
      await closed;
    },
  };
}

async function natsConnection(port: number, credentials: Credentials): Promise<NatsConnection> {
  return connect({
    servers: `127.0.0.1:${port}`,
    tls: { caFile: credentials.caFile },
    user: credentials.user,
    pass: credentials.password,
    // The load is the point: no reconnect would hide a broker that went away.
    reconnect: false,
  });
}

async function jetstreamPublisher(
  endpoint: Extract<PeerEndpoint, { system: 'jetstream' }>,
  credentials: Credentials,
): Promise<PublishLink> {
  const nc = await natsConnection(endpoint.port, credentials);
  const js = nc.jetstream();
  const encoder = new TextEncoder();
  return {
    // msgID: JetStream's duplicate window, the counterpart of our msgqueue's dedupe by id.
    publish: async (id, body) => {
      await js.publish(endpoint.subject, encoder.encode(body), { msgID: id });
    },
    close: () => nc.drain(),
  };
}

/**
 * An ordered consumer (pull-based, no acks, the client keeps the order) from the stream's next
 * sequence: like our subscriber's readers, which get the stored stream without acknowledging it.
 */
async function jetstreamSubscribe(
  endpoint: Extract<PeerEndpoint, { system: 'jetstream' }>,
  credentials: Credentials,
  receiver: Receiver,
): Promise<Subscription> {
  const nc = await natsConnection(endpoint.port, credentials);
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(endpoint.stream).catch(async () =>
    jsm.streams.add({
      name: endpoint.stream,
      subjects: [endpoint.subject],
      storage: StorageType.File,
      num_replicas: 1,
      retention: RetentionPolicy.Limits,
    }),
  );
  const consumer = await nc.jetstream().consumers.get(endpoint.stream, {
    filterSubjects: endpoint.subject,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: info.state.last_seq + 1,
  });
  const messages = await consumer.consume({ max_messages: 1_000 });
  const decoder = new TextDecoder();
  let closing = false;
  void (async () => {
    try {
      for await (const message of messages) receiver.deliver(decoder.decode(message.data));
    } catch (err) {
      if (!closing) receiver.lost(`JetStream consumer failed: ${(err as Error).message}`);
    }
  })();
  void nc.closed().then((err) => {
    if (!closing) receiver.lost(`NATS connection closed${err ? `: ${err.message}` : ''}`);
  });
  return {
    close: async () => {
      closing = true;
      await messages.close();
      await nc.drain();
    },
  };
}

function redisClient(port: number, credentials: Credentials): Redis {
  return new Redis({
    host: '127.0.0.1',
    port,
    password: credentials.password,
    tls: { ca: readFileSync(credentials.caFile, 'utf8') },
    // Commands issued in one turn go out in one write, as our clients' frames do.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
}

async function redisPublisher(
  endpoint: Extract<PeerEndpoint, { system: 'redis' }>,
  credentials: Credentials,
): Promise<PublishLink> {
  const redis = redisClient(endpoint.port, credentials);
  await redis.ping();
  return {
    // With appendfsync always, Redis answers an XADD only after the AOF write is fsync'd.
    publish: async (id, body) => {
      await redis.xadd(endpoint.key, '*', 'id', id, 'm', body);
    },
    close: async () => {
      await redis.quit();
    },
  };
}

/** XREAD BLOCK from the stream's last entry on, a thousand entries a call. */
async function redisSubscribe(
  endpoint: Extract<PeerEndpoint, { system: 'redis' }>,
  credentials: Credentials,
  receiver: Receiver,
): Promise<Subscription> {
  const redis = redisClient(endpoint.port, credentials);
  const last = await redis.xrevrange(endpoint.key, '+', '-', 'COUNT', 1);
  let cursor = last[0]?.[0] ?? '0-0';
  let closing = false;
  const loop = (async () => {
    while (!closing) {
      const reply = await redis.xread('COUNT', 1_000, 'BLOCK', 1_000, 'STREAMS', endpoint.key, cursor);
      for (const [, entries] of reply ?? []) {
        for (const [entryId, fields] of entries) {
          cursor = entryId;
          receiver.deliver(fields[3] ?? '');
        }
      }
    }
  })();
  loop.catch((err: unknown) => {
    if (!closing) receiver.lost(`XREAD failed: ${(err as Error).message}`);
  });
  return {
    close: async () => {
      closing = true;
      await loop.catch(() => undefined);
      await redis.quit();
    },
  };
}

export function openPublisher(endpoint: PeerEndpoint, credentials: Credentials): Promise<PublishLink> {
  switch (endpoint.system) {
    case 'suite':
      return suitePublisher(endpoint.publishUrl, credentials);
    case 'jetstream':
      return jetstreamPublisher(endpoint, credentials);
    case 'redis':
      return redisPublisher(endpoint, credentials);
  }
}

export function subscribe(endpoint: PeerEndpoint, credentials: Credentials, receiver: Receiver): Promise<Subscription> {
  switch (endpoint.system) {
    case 'suite':
      return suiteSubscribe(endpoint, credentials, receiver);
    case 'jetstream':
      return jetstreamSubscribe(endpoint, credentials, receiver);
    case 'redis':
      return redisSubscribe(endpoint, credentials, receiver);
  }
}
