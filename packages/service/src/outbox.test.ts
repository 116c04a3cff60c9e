import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { Outbox, serverTextFrame } from './outbox.js';

/** A server-side socket and the client talking to it, plus what the client received. */
async function pair() {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const received: string[] = [];
  client.on('message', (data: Buffer, isBinary: boolean) => received.push(isBinary ? '<binary>' : data.toString()));
  await once(client, 'open');
  const [ws] = await accepted;
  // Counts the socket writes under the server-side WebSocket.
  const socket = (ws as unknown as { _socket: Duplex })._socket;
  const writes = { count: 0 };
  const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
  socket.write = ((chunk: Buffer) => {
    writes.count++;
    return write(chunk);
  }) as typeof socket.write;
  cleanups.push(async () => {
    client.terminate();
    await new Promise((resolveClose) => server.close(resolveClose));
  });
  /** Resolves once the client has `count` messages; a ping round trip proves nothing else came. */
  const receivedAll = async (count: number) => {
    while (received.length < count) await once(client, 'message');
    const pong = once(client, 'pong');
    client.ping();
    await pong;
    return received;
  };
  return { ws, client, writes, receivedAll };
}

const outbox = (coalesce: boolean, onSlow: (ws: WebSocket) => void = () => undefined, now?: () => number) =>
  new Outbox({ coalesce, maxBufferedBytes: 1024, onSlow, ...(now === undefined ? {} : { now }) });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

describe('serverTextFrame', () => {
  test.each([0, 1, 125, 126, 65_535, 65_536, 70_000])('frames a %d-byte text a ws client reads back', async (size) => {
    const { ws, receivedAll } = await pair();
    const text = 'é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2);
    outbox(true).write(ws, serverTextFrame(text));
    expect(await receivedAll(1)).toEqual([text]);
  });
});

describe('Outbox', () => {
  test('writes the frames one socket gets in a turn with one write, in order', async () => {
    const { ws, client, writes, receivedAll } = await pair();
    const box = outbox(true);
    const shared = serverTextFrame('shared');
    box.write(ws, shared);
    box.send(ws, 'reply');
    box.write(ws, shared);
    expect(writes.count).toBe(0);
    await once(client, 'message');
    expect(writes.count).toBe(1);
    expect(await receivedAll(3)).toEqual(['shared', 'reply', 'shared']);
  });

  test('sockets with the same frames share one joined buffer, others get their own', async () => {
    const [a, b, c] = await Promise.all([pair(), pair(), pair()]);
    const box = outbox(true);
    const [one, two, three] = ['one', 'two', 'three'].map((text) => serverTextFrame(text));
    for (const { ws } of [a, b]) {
      box.write(ws, one as Buffer);
      box.write(ws, two as Buffer);
    }
    box.write(c.ws, one as Buffer);
    box.write(c.ws, three as Buffer);
    expect(await a.receivedAll(2)).toEqual(['one', 'two']);
    expect(await b.receivedAll(2)).toEqual(['one', 'two']);
    expect(await c.receivedAll(2)).toEqual(['one', 'three']);
  });

  test('a flush expected to take long waits 3 % of that time (at most 20 ms), so later frames join it', async () => {
    const { ws, writes, receivedAll } = await pair();
    // The first flush takes 10 s by this clock, so the next write to one socket is expected to.
    const clock = [0, 10_000];
    const box = outbox(true, undefined, () => clock.shift() ?? 10_000);
    box.send(ws, 'first');
    box.flush();
    expect(writes.count).toBe(1);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    box.send(ws, 'second');
    // The end of the turn passes without a write…
    await new Promise((resolveTurn) => setImmediate(resolveTurn));
    expect(writes.count).toBe(1);
    box.send(ws, 'third');
    vi.advanceTimersByTime(19);
    expect(writes.count).toBe(1);
    // …and 20 ms later (not 300) one write carries both.
    vi.advanceTimersByTime(1);
    expect(writes.count).toBe(2);
    vi.useRealTimers();
    expect(await receivedAll(3)).toEqual(['first', 'second', 'third']);
  });

  test('without coalescing, writes each frame at once', async () => {
    const { ws, writes, receivedAll } = await pair();
    const box = outbox(false);
    box.send(ws, 'a');
    box.send(ws, 'b');
    expect(writes.count).toBe(2);
    expect(await receivedAll(2)).toEqual(['a', 'b']);
  });

  test('flushSocket writes one socket now, so a close frame can follow its data', async () => {
    const { ws, client } = await pair();
    const received: string[] = [];
    client.on('message', (data: Buffer) => received.push(data.toString()));
    const box = outbox(true);
    box.send(ws, 'last words');
    box.flushSocket(ws);
    ws.close(4000, 'bye');
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(4000);
    expect(received).toEqual(['last words']);
  });

  test('drops what is queued for a socket that closed before the end of the turn', async () => {
    const { ws, client, writes } = await pair();
    const received: string[] = [];
    client.on('message', (data: Buffer) => received.push(data.toString()));
    const box = outbox(true);
    box.send(ws, 'too late');
    ws.close(4000, 'bye');
    const before = writes.count;
    box.flush();
    expect(writes.count).toBe(before);
    await once(client, 'close');
    expect(received).toEqual([]);
  });

  test('stops writing to a socket that left more than the limit unsent, and reports it once', async () => {
    const { ws, writes } = await pair();
    const slow: WebSocket[] = [];
    const box = outbox(true, (socket) => slow.push(socket));
    expect(box.send(ws, 'fine')).toBe(true);
    // What earlier turns left in the socket: a client that stopped reading.
    Object.defineProperty(ws, 'bufferedAmount', { value: 1025 });
    expect(box.send(ws, 'dropped')).toBe(false);
    expect(box.send(ws, 'dropped too')).toBe(false);
    box.flush();
    expect(slow).toEqual([ws]);
    expect(writes.count).toBe(0);
  });
});
