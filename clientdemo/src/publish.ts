import { randomUUID } from 'node:crypto';
import { Connection, endpoints } from './connection.js';
import { DUPLICATE_NOTE, formatClose, formatError, type Printer } from './format.js';
import type { ConnectionSettings } from './options.js';
import { PublishClient, type PublishReply } from './publish-client.js';

export interface PublishRequest {
  readonly topic: string;
  /** The content as JSON text. */
  readonly content: string;
  /** The message id; a random UUID when not given. */
  readonly id?: string;
  /** Give up after this many seconds without an answer; wait for as long as it takes when undefined. */
  readonly timeoutSeconds?: number;
}

/**
 * The publisher acks once the msgqueue holds the message and holds it meanwhile while the msgqueue
 * is away: after this long without an answer, say so, so that a wait does not look like a hang.
 */
const WAITING_NOTICE_MS = 2_000;

/** What an error reply means for someone at the command line, when there is more to say. */
function hint(reply: Extract<PublishReply, { type: 'error' }>, url: string): string | undefined {
  if (reply.code === 'UNKNOWN_COMMAND' || new URL(url).pathname === '/subscribe') {
    return `${url} looks like the subscriber's endpoint: publish to the publisher's /publish URL (--publish-url)`;
  }
  if (reply.code === 'SHUTTING_DOWN') return 'the publisher is stopping and did not take it: publish again';
  return undefined;
}

/**
 * `clientdemo publish`: sends one message and waits for the publisher's answer.
 * Exit code 0 once acked, 1 on an error reply, a lost connection or the timeout.
 */
export async function runPublish(
  request: PublishRequest,
  context: { settings: ConnectionSettings; printer: Printer },
): Promise<number> {
  const { printer } = context;
  const { publish: endpoint } = await endpoints(context.settings);
  const connection = await Connection.open(endpoint);
  const client = new PublishClient(connection, (frame) => {
    if (frame?.type === 'error') printer.err(formatError(frame));
  });
  const id = request.id ?? randomUUID();
  const replied = client.publish({ topic: request.topic, content: request.content, id });
  const timers: NodeJS.Timeout[] = [
    setTimeout(
      () =>
        printer.err('waiting for the ack: the msgqueue may be away; the publisher holds the message until it is back'),
      WAITING_NOTICE_MS,
    ),
  ];
  const timedOut = new Promise<'timeout'>((resolveTimeout) => {
    if (request.timeoutSeconds !== undefined) {
      timers.push(setTimeout(() => resolveTimeout('timeout'), request.timeoutSeconds * 1000));
    }
  });
  const reply = await Promise.race([replied, timedOut]);
  timers.forEach((timer) => clearTimeout(timer));
  if (reply === 'timeout') {
    printer.err(
      `no ack within ${request.timeoutSeconds} s; it may still be stored: publish again with --id ${id} ` +
        '(a resend with the same id is stored once)',
    );
    await connection.close();
    return 1;
  }
  if (reply === undefined) {
    printer.err(formatClose(connection.url, await connection.closed));
    return 1;
  }
  await connection.close();
  if (reply.type === 'error') {
    printer.err(formatError(reply));
    const extra = hint(reply, connection.url);
    if (extra !== undefined) printer.err(extra);
    return 1;
  }
  const seq = reply.seq === undefined ? '' : ` (${request.topic} #${reply.seq})`;
  printer.out(`published ${reply.id}${seq}${reply.duplicate === true ? DUPLICATE_NOTE : ''}`);
  return 0;
}
