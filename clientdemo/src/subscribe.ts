import type { ServerFrame } from '@pubsub/protocol';
import { ConnectError, Connection, endpoints, type Endpoint } from './connection.js';
import { formatClose, formatDelivery, formatError, formatSubscribed, type Printer } from './format.js';
import type { ConnectionSettings } from './options.js';
import { backoff } from './redial.js';
import { SubscribeClient, type Delivery, type Resume } from './subscribe-client.js';

export interface SubscribeRequest {
  readonly topics: readonly string[];
  /** Exit 0 after this many deliveries; run until a signal when undefined. */
  readonly count: number | undefined;
  /** Print each delivery frame as received instead of `<[topic] content`. */
  readonly json: boolean;
  /** When the connection drops, reconnect and resume each topic after its last seq. */
  readonly reconnect: boolean;
  /** Start every topic after this seq (`--from`, `--epoch`) instead of with what comes next. */
  readonly resume: Resume | undefined;
}

/**
 * `clientdemo subscribe`: subscribes to every topic, then prints deliveries on stdout (and only
 * them, so the output can be piped). Exit code 0 after `count` deliveries or on SIGINT/SIGTERM,
 * 1 on an error reply or when the server closes the connection (unless `reconnect`).
 */
export async function runSubscribe(
  request: SubscribeRequest,
  context: { settings: ConnectionSettings; printer: Printer },
): Promise<number> {
  const { printer } = context;
  const { subscribe: endpoint } = await endpoints(context.settings);
  let finished = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolveDone) => {
    finish = (code) => {
      finished = true;
      resolveDone(code);
    };
  });
  let received = 0;
  /** The last seq and epoch seen per topic: where a reconnect resumes. */
  const positions = new Map<string, Resume>();
  if (request.resume !== undefined) for (const topic of request.topics) positions.set(topic, request.resume);
  const handlers = {
    onDelivery(text: string, delivery: Delivery) {
      if (finished) return;
      if (delivery.seq !== undefined && delivery.epoch !== undefined) {
        positions.set(delivery.topic, { from: delivery.seq, epoch: delivery.epoch });
      }
      printer.out(request.json ? text : formatDelivery(text, delivery));
      if (++received === request.count) finish(0);
    },
    onStray(frame: ServerFrame | undefined) {
      if (frame?.type === 'error') printer.err(formatError(frame));
    },
  };
  const stop = () => finish(0);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let connection = await Connection.open(endpoint);
  try {
    for (let session = 0; !finished; session++) {
      const client = new SubscribeClient(connection, handlers);
      for (const topic of request.topics) {
        const reply = await Promise.race([
          client.command('sub', topic, positions.get(topic)),
          done.then(() => undefined),
        ]);
        if (reply === undefined) break;
        if (reply.type === 'error') {
          printer.err(formatError(reply));
          finish(1);
          break;
        }
        printer.err(reply.type === 'subscribed' ? formatSubscribed(reply) : `unsubscribed from ${reply.topic}`);
      }
      const info = await Promise.race([connection.closed, done.then(() => undefined)]);
      if (info === undefined || info.requested || finished) break;
      if (!request.reconnect) {
        printer.err(formatClose(connection.url, info));
        finish(1);
        break;
      }
      printer.err(`${formatClose(connection.url, info)}; reconnecting`);
      connection = await reconnect(endpoint, { printer, done });
    }
    return await done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await connection.close();
  }
}

/**
 * Dials until it connects (or the run finishes): one line when it is back, not one per attempt.
 * A refusal that retrying cannot fix (credentials, certificate) is thrown.
 */
async function reconnect(
  endpoint: Endpoint,
  context: { printer: Printer; done: Promise<number> },
): Promise<Connection> {
  for (let attempt = 0; ; attempt++) {
    await Promise.race([backoff(attempt), context.done]);
    try {
      const connection = await Connection.open(endpoint);
      context.printer.err(`reconnected to ${endpoint.url}`);
      return connection;
    } catch (err) {
      if (!(err instanceof ConnectError) || !err.retryable) throw err;
    }
  }
}
