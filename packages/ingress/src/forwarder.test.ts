import { silentLogger } from '@pubsub/log';
import { unpackBatch } from '@pubsub/protocol';
import type { Upstream } from '@pubsub/service';
import { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import type { WebSocket } from 'ws';
import { Forwarder, type Outcome } from './forwarder.js';

/** A stand-in hop socket: records what is sent, and lets the test play the msgqueue's acks. */
function hopSocket() {
  const sent: string[][] = [];
  const socket = new EventEmitter();
  Object.assign(socket, {
    send: (data: string | Buffer) =>
      sent.push(typeof data === 'string' ? [data] : (unpackBatch(data) ?? []).map(String)),
    terminate: () => undefined,
  });
  return { sent, ws: socket as unknown as WebSocket, ack: (text: string) => socket.emit('message', Buffer.from(text)) };
}

function rig(maxMessages: number) {
  const upstream = new EventEmitter() as Upstream & { socket: WebSocket | undefined };
  const forwarder = new Forwarder(upstream, {
    maxBuffered: 100,
    batch: { maxMessages, maxBytes: 64 * 1024 },
    logger: silentLogger(),
  });
  const connect = () => {
    const hop = hopSocket();
    Object.defineProperty(upstream, 'socket', { value: hop.ws, configurable: true });
    upstream.emit('open', hop.ws);
    return hop;
  };
  return { forwarder, connect };
}

describe('Forwarder', () => {
  test('sends what was submitted in one turn as one batch, and settles each message from the ack', async () => {
    const { forwarder, connect } = rig(256);
    const hop = connect();
    const outcomes: Outcome[] = [];
    for (const frame of ['{"topic":"a"}', '{"topic":"b"}', '{"topic":"c"}']) {
      forwarder.submit(frame, (outcome) => outcomes.push(outcome));
    }
    expect(hop.sent).toEqual([]);
    await nextTurn();
    expect(hop.sent).toEqual([['{"topic":"a"}', '{"topic":"b"}', '{"topic":"c"}']]);
    hop.ack('{"ack":3,"seq":[1,null,2],"dup":[2]}');
    expect(outcomes).toEqual([
      { ok: true, seq: 1, duplicate: false },
      { ok: false, code: 'INTERNAL' },
      { ok: true, seq: 2, duplicate: true },
    ]);
    expect(forwarder.pending).toBe(0);
  });

  test('with batches of 1, sends one text frame per message', async () => {
    const { forwarder, connect } = rig(1);
    const hop = connect();
    forwarder.submit('x', () => undefined);
    forwarder.submit('y', () => undefined);
    await nextTurn();
    expect(hop.sent).toEqual([['x'], ['y']]);
  });

  test('after a reconnect, sends everything unacknowledged once, in order', async () => {
    const { forwarder, connect } = rig(256);
    const first = connect();
    forwarder.submit('1', () => undefined);
    await nextTurn();
    forwarder.submit('2', () => undefined);
    // The hop drops and comes back before this turn's frames went out.
    const second = connect();
    await nextTurn();
    expect(first.sent).toEqual([['1']]);
    expect(second.sent).toEqual([['1', '2']]);
  });
});
