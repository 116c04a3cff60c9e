import { silentLogger } from '@pubsub/log';
import { bareWssServer, testCertificate } from '@pubsub/testkit';
import { once } from 'node:events';
import { describe, expect, test } from 'vitest';
import type { WebSocket } from 'ws';
import { dial, Upstream } from './upstream.js';

/** A hop server that greets each connection with its name, so a test sees which one it reached. */
const namedServer = (name: string) => bareWssServer((ws) => ws.send(name));

/** A URL nothing listens on: a port that was free a moment ago. */
async function deadUrl(): Promise<string> {
  const probe = await bareWssServer();
  await probe.kill();
  return probe.url('/hop');
}

async function upstream(urls: string[], dialQuery?: () => Record<string, string>) {
  const { ca } = await testCertificate();
  const hop = new Upstream({
    urls,
    ...(dialQuery && { dialQuery }),
    user: 'hello',
    password: 'test',
    ca,
    maxPayloadBytes: 1024,
    name: 'test hop',
    heartbeatIntervalMs: 60_000,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    logger: silentLogger(),
  });
  /** The greeting of the next server it connects to. */
  const nextGreeting = async () => {
    const [ws] = (await once(hop, 'open')) as [WebSocket];
    const [data] = (await once(ws, 'message')) as [Buffer];
    return data.toString();
  };
  return { hop, nextGreeting };
}

describe('Upstream', () => {
  test('a node that cannot be reached is skipped for the next one', async () => {
    const b = await namedServer('b');
    const { hop, nextGreeting } = await upstream([await deadUrl(), b.url('/hop')]);
    const greeting = nextGreeting();
    hop.start();
    expect(await greeting).toBe('b');
    expect(hop.url).toBe(b.url('/hop'));
    await hop.stop();
    await b.kill();
  });

  test('when the connected node dies it moves on to the next, and round the list back to the first', async () => {
    const [a, b] = await Promise.all([namedServer('a'), namedServer('b')]);
    const { hop, nextGreeting } = await upstream([a.url('/hop'), b.url('/hop')]);
    let greeting = nextGreeting();
    hop.start();
    expect(await greeting).toBe('a');

    greeting = nextGreeting();
    await a.kill();
    expect(await greeting).toBe('b');

    // b drops the connection but keeps running: the next try is a (dead), then b again.
    greeting = nextGreeting();
    for (const ws of b.accepted) ws.terminate();
    expect(await greeting).toBe('b');
    expect(b.accepted).toHaveLength(2);
    await hop.stop();
    await b.kill();
  });

  test('each dial carries the query of that moment', async () => {
    const server = await bareWssServer((ws, req) => ws.send(req.url ?? ''));
    let dials = 0;
    const { hop, nextGreeting } = await upstream([server.url('/hop?group=g')], () => ({ from: String(++dials) }));
    let greeting = nextGreeting();
    hop.start();
    expect(await greeting).toBe('/hop?group=g&from=1');
    greeting = nextGreeting();
    for (const ws of server.accepted) ws.terminate();
    expect(await greeting).toBe('/hop?group=g&from=2');
    await hop.stop();
    await server.kill();
  });

  test('needs at least one URL', () => {
    expect(() => new Upstream({ urls: [] } as unknown as ConstructorParameters<typeof Upstream>[0])).toThrow(
      /at least one URL/,
    );
  });

  test("a hop's frames carry an all-zero mask key, so neither end copies and XORs their bytes", async () => {
    const { ca } = await testCertificate();
    let firstChunk!: Promise<Buffer>;
    const server = await bareWssServer((_ws, request) => {
      firstChunk = once(request.socket, 'data').then(([chunk]) => chunk as Buffer);
    });
    const ws = await dial({ url: server.url('/hop'), user: 'hello', password: 'test', ca, maxPayloadBytes: 1024 });
    ws.send('hop frame');
    const frame = await firstChunk;
    expect(frame[1]! & 0x80).toBe(0x80); // still a masked frame, as RFC 6455 wants of a client
    expect([...frame.subarray(2, 6)]).toEqual([0, 0, 0, 0]);
    expect(frame.subarray(6).toString()).toBe('hop frame');
    ws.close();
    await server.kill();
  });
});
