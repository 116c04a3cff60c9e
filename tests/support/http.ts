import { request } from 'node:https';

export interface GetOptions {
  /** The CA the server's certificate must chain to. */
  ca: string;
  /** `user:password` for Basic Auth. */
  auth?: string;
  /** A client certificate, for a server that requires one. */
  cert?: string;
  key?: string;
}

/** One HTTPS GET to a service on localhost: its status and body. Rejects on a TLS or socket error. */
export function get(port: number, path: string, options: GetOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    request(`https://localhost:${port}${path}`, { ...options, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/** `GET /ready`, parsed. */
export async function ready(port: number, ca: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const { status, body } = await get(port, '/ready', { ca });
  return { status, body: JSON.parse(body) as Record<string, unknown> };
}
