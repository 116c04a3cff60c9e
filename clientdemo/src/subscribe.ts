import { Connection, endpoints } from './connection.js';
import { formatClose, formatDelivery, formatError, type Printer } from './format.js';
import type { ConnectionSettings } from './options.js';
import { SubscribeClient } from './subscribe-client.js';

export interface SubscribeRequest {
  readonly topics: readonly string[];
  /** Exit 0 after this many deliveries; run until a signal when undefined. */
  readonly count: number | undefined;
  /** Print each delivery frame as received instead of `<[topic] content`. */
  readonly json: boolean;
}

/**
 * `clientdemo subscribe`: subscribes to every topic, then prints deliveries on stdout (and only
 * them, so the output can be piped). Exit code 0 after `count` deliveries or on SIGINT/SIGTERM,
 * 1 on an error reply or when the server closes the connection.
 */
export async function runSubscribe(
  request: SubscribeRequest,
  context: { settings: ConnectionSettings; printer: Printer },
): Promise<number> {
  const { printer } = context;
  const { subscribe: endpoint } = await endpoints(context.settings);
  const connection = await Connection.open(endpoint);
  let finished = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolveDone) => {
    finish = (code) => {
      finished = true;
      resolveDone(code);
    };
  });
  let received = 0;
  const client = new SubscribeClient(connection, {
    onDelivery(text, delivery) {
      if (finished) return;
      printer.out(request.json ? text : formatDelivery(text, delivery));
      if (++received === request.count) finish(0);
    },
    onStray(frame) {
      if (frame?.type === 'error') printer.err(formatError(frame));
    },
  });
  void connection.closed.then((info) => {
    if (info.requested || finished) return;
    printer.err(formatClose(connection.url, info));
    finish(1);
  });
  const stop = () => finish(0);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (const topic of request.topics) {
      const reply = await Promise.race([client.command('sub', topic), done.then(() => undefined)]);
      if (reply === undefined) break;
      if (reply.type === 'error') {
        printer.err(formatError(reply));
        finish(1);
        break;
      }
      printer.err(`subscribed to ${reply.topic}`);
    }
    return await done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await connection.close();
  }
}
