/**
 * What the three processes of the bare chain share: a TLS WebSocket server that checks Basic Auth
 * on every upgrade, and a client connection to the queue hop. Configured by environment:
 * CEILING_CERT_DIR (server.crt / server.key), CEILING_PORT (0: any), CEILING_QUEUE_URL (A and C).
 */
import { loadServerCertificate } from '@pubsub/tls';
import { timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/** The one user every hop accepts and presents: the load generator's, like the services' development user. */
export const CREDENTIALS = 'hello:test';
const EXPECTED = Buffer.from(`Basic ${Buffer.from(CREDENTIALS).toString('base64')}`);

export const certificate = await loadServerCertificate({ certDir: requiredEnv('CEILING_CERT_DIR'), generate: false });

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

function authorized(header: string | undefined): boolean {
  const given = Buffer.from(header ?? '');
  return given.length === EXPECTED.length && timingSafeEqual(given, EXPECTED);
}

/**
 * Serves WebSocket `paths` over TLS on CEILING_PORT and prints the `listening` line the driver
 * waits for. No heartbeats, limits or metrics: the ceiling is what ws and TLS cost, nothing more.
 */
export async function serve(paths: Record<string, (ws: WebSocket) => void>): Promise<void> {
  const server = createServer({ cert: certificate.cert, key: certificate.key });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const handler = paths[new URL(req.url ?? '/', 'https://localhost').pathname];
    const refusal =
      handler === undefined ? '404 Not Found' : authorized(req.headers.authorization) ? undefined : '401 Unauthorized';
    if (handler === undefined || refusal !== undefined) {
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // A client that goes away mid-frame must not take the hop down with an unhandled 'error'.
      ws.on('error', () => ws.terminate());
      handler(ws);
    });
  });
  server.listen(Number(process.env.CEILING_PORT ?? 0), '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'listening', port })}\n`);
}

/** Connects to the queue hop at CEILING_QUEUE_URL + `path`; the process ends if that connection does. */
export async function connectToQueue(path: string): Promise<WebSocket> {
  const ws = new WebSocket(`${requiredEnv('CEILING_QUEUE_URL')}${path}`, {
    ca: certificate.cert,
    auth: CREDENTIALS,
    perMessageDeflate: false,
  });
  await once(ws, 'open');
  ws.on('close', () => {
    process.stderr.write(`queue connection ${path} closed\n`);
    process.exit(1);
  });
  return ws;
}

// The driver stops the chain with SIGTERM; exit 0 says it ended as asked.
process.once('SIGTERM', () => process.exit(0));
