/**
 * The webhook section: on one durable chain of our three services, in one run, how fast a webhook
 * subscription delivers to a local receiver (one request in flight, as the subscriber does it)
 * against a wss subscriber of the same stream. See bench/README.md ("Webhooks").
 */
import { DEV_AUTH } from '@pubsub/testkit';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Batch, completion, Publisher, Reader } from '../burst/clients.js';
import type { Endpoints } from '../burst/types.js';
import type { ExtraRow, ModuleReport } from '../report.js';
import {
  integrityNote,
  ofWss,
  runSection,
  startSectionChain,
  type Integrity,
  type SectionOptions,
} from '../section.js';
import { formatRate, formatRatio, monotonicMs, ratio } from '../stats.js';
import { idOf } from '../tracker.js';

const TOPIC = 'webhook';
const WINDOW = 1_000;

/** One reader's figures: distinct deliveries ÷ (first publish → last delivery). */
interface Figures extends Integrity {
  readonly received: number;
  readonly perSec: number;
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
      const id = idOf(Buffer.concat(chunks).toString()) ?? '';
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
      { method: 'POST', ca, auth: DEV_AUTH, headers: { 'Content-Type': 'application/json' } },
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

export function webhookRows(result: { count: number; wss: Figures; webhook: Figures }): ExtraRow[] {
  return [
    {
      label: `wss /subscribe deliveries (baseline), ${result.count} msgs, window ${WINDOW}`,
      value: `${formatRate(result.wss.perSec)}/s${integrityNote(result.wss)}`,
    },
    {
      label: 'webhook deliveries to a local receiver, same stream, one request in flight',
      value: ofWss(result.webhook.perSec, result.wss.perSec, '/s') + integrityNote(result.webhook),
    },
  ];
}

export function runWebhookModule(options: SectionOptions, progress: (text: string) => void): Promise<ModuleReport> {
  const label = 'webhookr0';
  const count = options.quick ? 2_000 : 10_000;
  const timeoutMs = 30_000 + count * 10;
  return runSection({ name: 'webhook', progress }, async (scope) => {
    const suite = await startSectionChain(options, label, {
      SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.0/8',
      SUBSCRIBER_DATA_DIR: join(options.work, `subscriber-${label}`),
    });
    scope.defer(() => suite.stop());
    const endpoints: Endpoints = {
      publishUrl: `wss://127.0.0.1:${suite.publishPort}/publish`,
      subscribeUrl: `wss://127.0.0.1:${suite.subscribePort}/subscribe`,
      caFile: options.caFile,
      auth: DEV_AUTH,
    };
    const hookBatch = new Batch(label, count);
    const receiver = await startReceiver(hookBatch);
    scope.defer(() => {
      receiver.server.closeAllConnections();
      receiver.server.close();
    });
    await createSubscription(`https://127.0.0.1:${suite.subscribePort}`, options.ca, {
      topic: TOPIC,
      url: receiver.url,
    });
    const reader = await Reader.open(endpoints, TOPIC);
    scope.defer(() => reader.close());
    const wssBatch = reader.expect(new Batch(label, count));
    const publisher = await Publisher.open(endpoints, TOPIC);
    scope.defer(() => publisher.ws.close());
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
  });
}
