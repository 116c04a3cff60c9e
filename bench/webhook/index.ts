/**
 * The webhook section: on one durable chain of our three services, in one run, how fast a webhook
 * subscription delivers to a local receiver (one request in flight, as the subscriber does it)
 * against a wss subscriber of the same stream. See bench/README.md ("Webhooks").
 */
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Batch, completion, Publisher, Reader } from '../burst/clients.js';
import type { Endpoints } from '../burst/types.js';
import { Suite } from '../services.js';
import { formatRate, formatRatio, monotonicMs, ratio } from '../stats.js';

export interface WebhookOptions {
  readonly quick: boolean;
  readonly work: string;
  readonly certDir: string;
  readonly ca: string;
  readonly caFile: string;
}

export interface WebhookReport {
  readonly rows: { label: string; value: string }[];
  readonly json: unknown;
  readonly errors: string[];
}

const AUTH = 'hello:test';
const TOPIC = 'webhook';
const WINDOW = 1_000;
const ID_KEY = '"id":"';

/** One reader's figures: distinct deliveries ÷ (first publish → last delivery). */
interface Figures {
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly reordered: number;
  readonly perSec: number;
  readonly timedOut: boolean;
}

function figures(batch: Batch, startedAt: number, timedOut: boolean): Figures {
  const spanMs = batch.lastAt - startedAt;
  return {
    received: batch.unique,
    lost: batch.expected - batch.unique,
    duplicated: batch.duplicated,
    reordered: batch.reordered,
    perSec: batch.unique === 0 || !(spanMs > 0) ? 0 : (batch.unique * 1000) / spanMs,
    timedOut,
  };
}

/** A receiver answering 200 to every request, counting the ids `<label>-<n>` it got. */
async function startReceiver(batch: Batch): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const start = text.indexOf(ID_KEY) + ID_KEY.length;
      const id = text.slice(start, text.indexOf('"', start));
      batch.take(Number(id.slice(id.lastIndexOf('-') + 1)));
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server };
}

function createSubscription(base: string, ca: string, body: object): Promise<void> {
  return new Promise((resolveCreated, reject) => {
    const req = request(
      `${base}/api/subscriptions`,
      { method: 'POST', ca, auth: AUTH, headers: { 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          res.statusCode === 201
            ? resolveCreated()
            : reject(new Error(`POST /api/subscriptions: ${res.statusCode} ${text}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

export function webhookRows(result: {
  count: number;
  wss: Figures;
  webhook: Figures;
}): { label: string; value: string }[] {
  const integrity = (f: Figures) =>
    f.lost + f.duplicated + f.reordered > 0 || f.timedOut
      ? `; lost ${f.lost}, dup ${f.duplicated}, reordered ${f.reordered}${f.timedOut ? ', TIMED OUT' : ''}`
      : '';
  return [
    {
      label: `wss /subscribe deliveries (baseline), ${result.count} msgs, window ${WINDOW}`,
      value: `${formatRate(result.wss.perSec)}/s${integrity(result.wss)}`,
    },
    {
      label: 'webhook deliveries to a local receiver, same stream, one request in flight',
      value: `${formatRate(result.webhook.perSec)}/s (${formatRatio(ratio(result.webhook.perSec, result.wss.perSec))} of wss)${integrity(result.webhook)}`,
    },
  ];
}

export async function runWebhookModule(
  options: WebhookOptions,
  progress: (text: string) => void,
): Promise<WebhookReport> {
  const label = 'webhookr0';
  const count = options.quick ? 2_000 : 10_000;
  const timeoutMs = 30_000 + count * 10;
  const dataDir = join(options.work, `data-${label}`);
  let suite: Suite | undefined;
  let receiver: { url: string; server: Server } | undefined;
  let reader: Reader | undefined;
  let publisher: Publisher | undefined;
  try {
    mkdirSync(dataDir);
    suite = await Suite.start({
      store: 'file',
      certDir: options.certDir,
      ca: options.ca,
      dataDir,
      logLevel: 'warn',
      env: {
        SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.0/8',
        SUBSCRIBER_DATA_DIR: join(options.work, `subscriber-${label}`),
      },
    });
    const endpoints: Endpoints = {
      publishUrl: `wss://127.0.0.1:${suite.publishPort}/publish`,
      subscribeUrl: `wss://127.0.0.1:${suite.subscribePort}/subscribe`,
      caFile: options.caFile,
      auth: AUTH,
    };
    const hookBatch = new Batch(label, count);
    receiver = await startReceiver(hookBatch);
    await createSubscription(`https://127.0.0.1:${suite.subscribePort}`, options.ca, {
      topic: TOPIC,
      url: receiver.url,
    });
    reader = await Reader.open(endpoints, TOPIC);
    const wssBatch = reader.expect(new Batch(label, count));
    publisher = await Publisher.open(endpoints, TOPIC);
    const startedAt = monotonicMs();
    await publisher.burst(label, count, WINDOW);
    const wssTimedOut = await completion(wssBatch, timeoutMs);
    const hookTimedOut = await completion(hookBatch, timeoutMs);
    const result = {
      count,
      wss: figures(wssBatch, startedAt, wssTimedOut),
      webhook: figures(hookBatch, startedAt, hookTimedOut),
    };
    const webhookOverWss = ratio(result.webhook.perSec, result.wss.perSec);
    progress(
      `[webhook] wss ${formatRate(result.wss.perSec)}/s, webhook ${formatRate(result.webhook.perSec)}/s (${formatRatio(webhookOverWss)} of wss)`,
    );
    const errors = wssTimedOut || hookTimedOut ? ['webhook section timed out'] : [];
    return {
      rows: webhookRows(result),
      json: {
        count,
        window: WINDOW,
        result,
        ratios: { webhookOverWss },
        unexpectedLogLines: suite.unexpectedLogLines(),
        errors,
      },
      errors,
    };
  } catch (err) {
    const error = (err as Error).message;
    progress(`[webhook] FAILED: ${error}`);
    return { rows: [], json: { errors: [error] }, errors: [error] };
  } finally {
    publisher?.ws.close();
    await reader?.close();
    receiver?.server.closeAllConnections();
    receiver?.server.close();
    await suite?.stop();
  }
}
