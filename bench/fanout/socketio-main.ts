/**
 * The Socket.IO peer, run as its own process by socketio-server.ts: HTTPS with the suite's
 * certificate (WS_CERT_DIR), WebSocket transport only, the same Basic Auth, and rooms. A `join`
 * event puts the socket in a room; a `publish` event is emitted to its topic's room as `message`
 * and then acknowledged with its sequence number, as our publisher acks with a seq.
 * Prints `{"msg":"listening","port":…}` on stdout when ready.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Server } from 'socket.io';
import { AUTHORIZATION } from './types.js';

const certDir = process.env.WS_CERT_DIR ?? '';
const https = createServer({
  cert: readFileSync(join(certDir, 'server.crt')),
  key: readFileSync(join(certDir, 'server.key')),
  minVersion: 'TLSv1.2',
});
const expected = Buffer.from(AUTHORIZATION);

function authorized(header: string | undefined): boolean {
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const server = new Server(https, {
  transports: ['websocket'],
  serveClient: false,
  allowRequest: (req, callback) => callback(null, authorized(req.headers.authorization)),
});

interface Publish {
  topic: string;
  id: string;
  content: unknown;
}

let seq = 0;
server.on('connection', (socket) => {
  socket.on('join', (room: unknown, ack: unknown) => {
    if (typeof room === 'string') void socket.join(room);
    if (typeof ack === 'function') (ack as () => void)();
  });
  socket.on('publish', (message: Publish, ack: unknown) => {
    seq++;
    server.to(message.topic).emit('message', { topic: message.topic, id: message.id, content: message.content, seq });
    if (typeof ack === 'function') (ack as (seq: number) => void)(seq);
  });
});

https.listen(0, '127.0.0.1', () => {
  const { port } = https.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'listening', port })}\n`);
});

const stop = () => {
  // Closing 10k sockets one by one can take a while: the driver kills us if it takes too long.
  void server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
