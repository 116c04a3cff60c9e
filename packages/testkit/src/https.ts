import type { IncomingHttpHeaders } from 'node:http';
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

export interface PostOptions extends GetOptions {
  /** Sent as given; empty by default. */
  body?: string | Buffer;
  /** `Content-Type: application/json` by default. */
  headers?: Record<string, string>;
  /** HTTP method; POST by default. */
  method?: string;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTPS request with a body to a service on localhost; the body is sent as given. */
export function post(port: number, path: string, options: PostOptions): Promise<HttpAnswer> {
  const { headers = { 'Content-Type': 'application/json' }, method = 'POST', body = '', ...tls } = options;
  return new Promise((resolvePost, reject) => {
    const req = request(`https://localhost:${port}${path}`, { ...tls, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolvePost({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    // The server may answer (413) and stop reading before the body is all sent.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    req.end(body);
  });
}
