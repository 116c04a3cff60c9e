/**
 * Hop A of the bare chain, in the publisher's place: clients publish on /publish, each message goes
 * to B as its own frame, and B's ack comes back to the client as `{"type":"ack","id":…,"seq":…}`.
 */
import { WebSocket, type RawData } from 'ws';
import { connectToQueue, serve } from './hop.js';

interface Published {
  readonly topic?: unknown;
  readonly content?: unknown;
  readonly id?: unknown;
}

/** Messages sent to B and not yet acked, by the reference B echoes. */
const pending = new Map<number, { ws: WebSocket; id: string }>();
let nextRef = 0;

const queue = await connectToQueue('/push');
queue.on('message', (data: RawData) => {
  const { ref, seq } = JSON.parse((data as Buffer).toString()) as { ref: number; seq: number };
  const waiting = pending.get(ref);
  if (waiting === undefined) return;
  pending.delete(ref);
  if (waiting.ws.readyState === WebSocket.OPEN) {
    waiting.ws.send(JSON.stringify({ type: 'ack', id: waiting.id, seq }));
  }
});

function onPublish(ws: WebSocket): void {
  ws.on('message', (data: RawData) => {
    const message = JSON.parse((data as Buffer).toString()) as Published;
    if (typeof message.topic !== 'string' || message.content === undefined || typeof message.id !== 'string') {
      ws.send(JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', id: message.id }));
      return;
    }
    const ref = nextRef++;
    pending.set(ref, { ws, id: message.id });
    queue.send(JSON.stringify({ ref, topic: message.topic, id: message.id, content: message.content }));
  });
}

await serve({ '/publish': onPublish });
