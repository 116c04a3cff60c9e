/**
 * Hop C of the bare chain, in the subscriber's place: takes every message from B on /pop and sends
 * it, as one `{"type":"message",…}` frame built once, to each client socket subscribed to its topic
 * with `sub <topic>` on /subscribe.
 */
import type { RawData, WebSocket } from 'ws';
import { connectToQueue, serve } from './hop.js';

interface Queued {
  readonly topic: string;
  readonly id: string;
  readonly content: unknown;
  readonly seq: number;
}

/** The bare chain never resets its numbering: one epoch for its whole life. */
const EPOCH = 'ceiling';
const subscribers = new Map<string, Set<WebSocket>>();

const queue = await connectToQueue('/pop');
queue.on('message', (data: RawData) => {
  const message = JSON.parse((data as Buffer).toString()) as Queued;
  const sockets = subscribers.get(message.topic);
  if (sockets === undefined) return;
  const frame = Buffer.from(
    JSON.stringify({
      type: 'message',
      topic: message.topic,
      id: message.id,
      content: message.content,
      seq: message.seq,
      epoch: EPOCH,
    }),
  );
  for (const ws of sockets) ws.send(frame, { binary: false });
});

function onSubscribe(ws: WebSocket): void {
  const joined = new Set<string>();
  ws.on('message', (data: RawData) => {
    const [verb, topic] = (data as Buffer).toString().trim().split(/\s+/);
    if (verb !== 'sub' || topic === undefined) {
      ws.send(JSON.stringify({ type: 'error', code: 'UNKNOWN_COMMAND' }));
      return;
    }
    const sockets = subscribers.get(topic) ?? new Set<WebSocket>();
    subscribers.set(topic, sockets.add(ws));
    joined.add(topic);
    ws.send(JSON.stringify({ type: 'subscribed', topic }));
  });
  ws.on('close', () => joined.forEach((topic) => subscribers.get(topic)?.delete(ws)));
}

await serve({ '/subscribe': onSubscribe });
