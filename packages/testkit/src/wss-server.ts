import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { testCertificate } from './certificate.js';

export interface BareWssServer {
  /** `wss://localhost:<port><path>`. */
  url(path: string): string;
  /** Every socket it accepted, in order. */
  readonly accepted: WebSocket[];
  /** Stops listening and drops every connection at once, as a node that died would. */
  kill(): Promise<void>;
}

/**
 * A TLS WebSocket server on port 0 with the test certificate and no service behind it, for a
 * test that plays a hop's far end by hand (one that never acknowledges, say). It accepts any
 * credentials.
 */
export async function bareWssServer(
  onConnection: (ws: WebSocket, request: IncomingMessage) => void = () => undefined,
): Promise<BareWssServer> {
  const { certDir } = await testCertificate();
  const server = createServer({
    cert: readFileSync(join(certDir, 'server.crt')),
    key: readFileSync(join(certDir, 'server.key')),
  });
  const wss = new WebSocketServer({ server });
  const accepted: WebSocket[] = [];
  wss.on('connection', (ws, req) => {
    accepted.push(ws);
    onConnection(ws, req);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `wss://localhost:${port}${path}`,
    accepted,
    async kill() {
      for (const ws of accepted) ws.terminate();
      wss.close();
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
