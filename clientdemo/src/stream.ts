import { decodeServerFrame } from '@pubsub/protocol';
import { request } from 'node:https';
import { ConnectError, Connection, loadCa, type Endpoint } from './connection.js';
import { formatClose, formatDelivery, formatError, type Printer } from './format.js';
import type { ConnectionSettings } from './options.js';
import { backoff } from './redial.js';

interface StreamView {
  id: string;
  url: string;
  topics: string[];
  ordinal: number;
  connections: number;
  expiresAt?: string;
}

/** The subscriber's `/api/streams` for the subscribe URL's host: https, same port. */
function apiUrl(settings: ConnectionSettings, path: string): URL {
  const url = new URL(path, settings.subscribeUrl);
  url.protocol = 'https:';
  return url;
}

/** One call to `/api/streams…` with the user's credentials; a refusal is thrown with the server's message. */
async function callApi(
  settings: ConnectionSettings,
  call: { method: string; path: string; body?: unknown },
): Promise<unknown> {
  const ca = await loadCa(settings.caFile);
  const url = apiUrl(settings, call.path);
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const answer = await new Promise<{ status: number; text: string }>((resolveAnswer, reject) => {
    const req = request(
      url,
      {
        method: call.method,
        ca,
        auth: `${settings.user}:${settings.password}`,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolveAnswer({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', (err) => reject(new ConnectError(`cannot reach ${url.origin}: ${err.message}`, { cause: err })));
    req.end(body);
  });
  const json = answer.text === '' ? undefined : (JSON.parse(answer.text) as unknown);
  if (answer.status >= 400) {
    const { code, message } = (json ?? {}) as { code?: string; message?: string };
    throw new ConnectError(`${call.method} ${url.pathname} refused (${answer.status} ${code ?? ''}): ${message ?? ''}`);
  }
  return json;
}

/** `clientdemo stream create <topic…>`: prints the URL alone on stdout, so a script can take it. */
export async function runStreamCreate(
  topics: readonly string[],
  context: { settings: ConnectionSettings; printer: Printer },
): Promise<number> {
  const stream = (await callApi(context.settings, {
    method: 'POST',
    path: '/api/streams',
    body: { topics },
  })) as StreamView;
  context.printer.err(`created stream ${stream.id} on ${stream.topics.join(', ')}`);
  context.printer.out(stream.url);
  return 0;
}

/** `clientdemo stream list`: one line per stream of the user. */
export async function runStreamList(context: { settings: ConnectionSettings; printer: Printer }): Promise<number> {
  const { streams } = (await callApi(context.settings, { method: 'GET', path: '/api/streams' })) as {
    streams: StreamView[];
  };
  for (const stream of streams) {
    const state = stream.connections > 0 ? `${stream.connections} connected` : `idle, expires ${stream.expiresAt}`;
    context.printer.out(`${stream.url}  ${stream.topics.join(',')}  ordinal ${stream.ordinal}  ${state}`);
  }
  return 0;
}

/** `clientdemo stream delete <url or id>`. */
export async function runStreamDelete(
  stream: string,
  context: { settings: ConnectionSettings; printer: Printer },
): Promise<number> {
  const id = stream.slice(stream.lastIndexOf('/') + 1);
  await callApi(context.settings, { method: 'DELETE', path: `/api/streams/${encodeURIComponent(id)}` });
  context.printer.err(`deleted stream ${id}`);
  return 0;
}

export interface FollowRequest {
  readonly url: string;
  /** Replay what came after this ordinal first. */
  readonly from: number | undefined;
  readonly count: number | undefined;
  readonly json: boolean;
  /** When the connection drops, reconnect after the last ordinal received. */
  readonly reconnect: boolean;
}

/**
 * `clientdemo stream follow <url>`: the capability URL alone, no credentials. Prints each
 * delivery as `#<ordinal> <[topic #seq] content` (or the frame with --json); exit 0 after
 * `count` deliveries or on SIGINT/SIGTERM, 1 when the server ends it (unless `reconnect`).
 */
export async function runStreamFollow(
  follow: FollowRequest,
  context: { settings: ConnectionSettings; printer: Printer },
): Promise<number> {
  const { printer } = context;
  const endpoint: Endpoint = {
    url: follow.url,
    ca: await loadCa(context.settings.caFile),
    caFile: context.settings.caFile,
  };
  let last = follow.from;
  let received = 0;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolveDone) => (finish = resolveDone));
  let finished = false;
  void done.then(() => (finished = true));
  const stop = () => finish(0);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const dial = () => {
    const url = new URL(follow.url);
    if (last !== undefined) url.searchParams.set('from', String(last));
    return Connection.open({ ...endpoint, url: url.toString() });
  };
  let connection = await dial();
  printer.err(last === undefined ? 'following the stream' : `following the stream after ordinal ${last}`);
  try {
    for (;;) {
      connection.onText((text) => {
        const frame = decodeServerFrame(text);
        if (finished || frame === undefined) return;
        if (frame.type === 'message') {
          const { ordinal } = JSON.parse(text) as { ordinal?: number };
          if (ordinal !== undefined) last = ordinal;
          printer.out(follow.json ? text : `#${ordinal ?? '?'} ${formatDelivery(text, frame)}`);
          if (++received === follow.count) finish(0);
        } else if (frame.type === 'error') {
          printer.err(formatError(frame));
        } else if (frame.type === 'subscribed' && frame.recovered === false) {
          printer.err(`messages of ${frame.topic} were no longer retained: some are missing here`);
        }
      });
      const info = await Promise.race([connection.closed, done.then(() => undefined)]);
      if (info === undefined || info.requested || finished) break;
      if (!follow.reconnect) {
        printer.err(formatClose(connection.url, info));
        finish(1);
        break;
      }
      printer.err(`${formatClose(connection.url, info)}; reconnecting`);
      connection = await redial(dial, done);
      printer.err(`reconnected to ${follow.url}`);
    }
    return await done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await connection.close();
  }
}

/** Dials with backoff until it connects; a refusal retrying cannot fix (gone, unknown) is thrown. */
async function redial(dial: () => Promise<Connection>, done: Promise<number>): Promise<Connection> {
  for (let attempt = 0; ; attempt++) {
    await Promise.race([backoff(attempt), done]);
    try {
      return await dial();
    } catch (err) {
      if (!(err instanceof ConnectError) || !err.retryable) throw err;
    }
  }
}
