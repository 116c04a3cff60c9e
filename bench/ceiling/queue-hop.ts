/**
 * Hop B of the bare chain, in the msgqueue's place: takes messages from A on /push, numbers them
 * per topic, forwards each to every C on /pop and then acks it to A. Nothing is stored.
 */
import type { RawData, WebSocket } from 'ws';
import { serve } from './hop.js';

interface Pushed {
  readonly ref: number;
  readonly topic: string;
  readonly id: string;
  readonly content: unknown;
}

const consumers = new Set<WebSocket>();
const seqs = new Map<string, number>();

function onPush(ws: WebSocket): void {
  ws.on('message', (data: RawData) => {
    const message = JSON.parse((data as Buffer).toString()) as Pushed;
    const seq = (seqs.get(message.topic) ?? 0) + 1;
    seqs.set(message.topic, seq);
    const frame = JSON.stringify({ topic: message.topic, id: message.id, content: message.content, seq });
    for (const consumer of consumers) consumer.send(frame);
    ws.send(JSON.stringify({ ref: message.ref, seq }));
  });
}

function onPop(ws: WebSocket): void {
  consumers.add(ws);
  ws.on('close', () => consumers.delete(ws));
}

await serve({ '/push': onPush, '/pop': onPop });
