/**
 * The publishing client of a fan-out run, in the driver process (it sends a few hundred messages
 * per run, next to nothing). At most PUBLISH_WINDOW publishes are unanswered at a time: enough
 * that the server always has messages to fan out, so the fan-out and not the publisher sets the
 * pace.
 */
import { DEV_AUTH } from '@pubsub/testkit';
import { once } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import { WebSocket, type RawData } from 'ws';
import { CONTENT } from '../types.js';
import { windowed, type WindowResult } from '../window.js';
import { AUTHORIZATION, TOPIC, type Publisher } from './types.js';

export const PUBLISH_WINDOW = 50;
const PUBLISH_TIMEOUT_MS = 60_000;

/** Publishes with the window; a publish still unanswered after PUBLISH_TIMEOUT_MS fails the run. */
async function publishing(count: number, send: Parameters<typeof windowed>[1]): Promise<WindowResult> {
  const result = await windowed({ count, window: PUBLISH_WINDOW, timeoutMs: PUBLISH_TIMEOUT_MS }, send);
  if (result.timedOut) {
    throw new Error(`publish: ${result.acked + result.refused} of ${count} answered in ${PUBLISH_TIMEOUT_MS} ms`);
  }
  return result;
}

/** Our /publish endpoint: `{"topic","content","id"}` answered by `{"type":"ack","id",…}`. */
export async function openSuitePublisher(port: number, ca: string): Promise<Publisher> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/publish`, { ca, auth: DEV_AUTH });
  await once(ws, 'open');
  const waiting = new Map<string, (ok: boolean) => void>();
  ws.on('message', (data: RawData) => {
    const reply = JSON.parse((data as Buffer).toString()) as { type?: string; id?: string };
    const answered = reply.id === undefined ? undefined : waiting.get(reply.id);
    if (answered === undefined || reply.id === undefined) return;
    waiting.delete(reply.id);
    answered(reply.type === 'ack');
  });
  return {
    publish: (count, label) =>
      publishing(count, (n, answered) => {
        const id = `${label}-${n}`;
        waiting.set(id, answered);
        ws.send(`{"topic":"${TOPIC}","content":${CONTENT},"id":"${id}"}`);
      }),
    async close() {
      const closed = once(ws, 'close');
      ws.close();
      await closed;
    },
  };
}

/** The Socket.IO peer: a `publish` event with an ack, which the server sends after its emit. */
export async function openSocketIoPublisher(port: number, ca: string): Promise<Publisher> {
  const socket: Socket = io(`https://127.0.0.1:${port}`, {
    transports: ['websocket'],
    ca,
    extraHeaders: { authorization: AUTHORIZATION },
    reconnection: false,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const content = JSON.parse(CONTENT) as string;
  return {
    publish: (count, label) =>
      publishing(count, (n, answered) => {
        socket.emit('publish', { topic: TOPIC, content, id: `${label}-${n}` }, (seq: unknown) =>
          answered(typeof seq === 'number'),
        );
      }),
    close() {
      socket.disconnect();
      return Promise.resolve();
    },
  };
}
