import { randomUUID } from 'node:crypto';
import { Connection, endpoints } from './connection.js';
import { formatClose, formatError, type Printer } from './format.js';
import type { ConnectionSettings } from './options.js';
import { PublishClient } from './publish-client.js';

export interface PublishRequest {
  readonly topic: string;
  /** The content as JSON text. */
  readonly content: string;
  /** The message id; a random UUID when not given. */
  readonly id?: string;
}

/**
 * `clientdemo publish`: sends one message and waits for the publisher's answer.
 * Exit code 0 once acked, 1 on an error reply or a lost connection.
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
  const reply = await client.publish({
    topic: request.topic,
    content: request.content,
    id: request.id ?? randomUUID(),
  });
  if (reply === undefined) {
    printer.err(formatClose(connection.url, await connection.closed));
    return 1;
  }
  await connection.close();
  if (reply.type === 'error') {
    printer.err(formatError(reply));
    return 1;
  }
  printer.out(`published ${reply.id}`);
  return 0;
}
