/**
 * The HTTP section: on one durable chain of our three services (defaults, PUBLISHER_RATE_LIMIT=0),
 * in one run, what publishing through `POST /api/messages` (single messages and batches) and
 * reading through `GET /events` achieve against the wss endpoints. See bench/README.md ("HTTP and SSE").
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TsChild } from '../process.js';
import { freePorts, Suite } from '../services.js';
import { formatRate, formatRatio, ratio } from '../stats.js';
import { HTTP_RESULT_PREFIX, type HttpConfig, type HttpResult, type PublishFigures } from './types.js';

export interface HttpOptions {
  readonly quick: boolean;
  readonly work: string;
  readonly certDir: string;
  readonly ca: string;
  readonly caFile: string;
}

export interface HttpReport {
  readonly rows: { label: string; value: string }[];
  readonly json: unknown;
  readonly errors: string[];
}

const AUTH = 'hello:test';
export const HTTP_ENV = { PUBLISHER_RATE_LIMIT: '0' } as const;

function publishRow(name: string, figures: PublishFigures, baseline: number): { label: string; value: string } {
  const missing = figures.sent - figures.acked;
  return {
    label: name,
    value:
      `${formatRate(figures.perSec)} msg/s (${formatRatio(ratio(figures.perSec, baseline))} of wss)` +
      (missing > 0 || figures.timedOut
        ? `; ${figures.acked}/${figures.sent} acked${figures.timedOut ? ', TIMED OUT' : ''}`
        : ''),
  };
}

export function httpRows(result: HttpResult): { label: string; value: string }[] {
  const base = result.wss.perSec;
  const wssDelivery = result.wssDelivery.perSec;
  const delivered = (name: string, figures: HttpResult['wssDelivery'], value: string) => ({
    label: name,
    value:
      value +
      (figures.lost + figures.duplicated + figures.reordered > 0 || figures.timedOut
        ? `; lost ${figures.lost}, dup ${figures.duplicated}, reordered ${figures.reordered}${figures.timedOut ? ', TIMED OUT' : ''}`
        : ''),
  });
  return [
    publishRow(`wss /publish, window 1,000 (baseline), ${result.count} msgs`, result.wss, base),
    publishRow(
      `POST /api/messages, 1 msg/request, 8 in flight, ${result.httpSingle.sent} msgs`,
      result.httpSingle,
      base,
    ),
    publishRow(
      `POST /api/messages, 100 msgs/request, 8 in flight, ${result.httpBatch.sent} msgs`,
      result.httpBatch,
      base,
    ),
    delivered('wss /subscribe deliveries (baseline)', result.wssDelivery, `${formatRate(wssDelivery)}/s`),
    delivered(
      'GET /events (SSE) deliveries, same stream',
      result.sseDelivery,
      `${formatRate(result.sseDelivery.perSec)}/s (${formatRatio(ratio(result.sseDelivery.perSec, wssDelivery))} of wss)`,
    ),
    delivered(
      'gRPC Subscribe deliveries, same stream',
      result.grpcDelivery,
      `${formatRate(result.grpcDelivery.perSec)}/s (${formatRatio(ratio(result.grpcDelivery.perSec, wssDelivery))} of wss)`,
    ),
  ];
}

export async function runHttpModule(options: HttpOptions, progress: (text: string) => void): Promise<HttpReport> {
  const label = 'httpr0';
  const count = options.quick ? 5_000 : 20_000;
  const began = performance.now();
  const dataDir = join(options.work, `data-http-${label}`);
  let suite: Suite | undefined;
  let child: TsChild | undefined;
  let guard: NodeJS.Timeout | undefined;
  try {
    mkdirSync(dataDir);
    const [grpcPort] = await freePorts(1);
    suite = await Suite.start({
      store: 'file',
      certDir: options.certDir,
      ca: options.ca,
      dataDir,
      logLevel: 'warn',
      env: { ...HTTP_ENV, SUBSCRIBER_GRPC_PORT: String(grpcPort) },
    });
    const config: HttpConfig = {
      publishUrl: `wss://127.0.0.1:${suite.publishPort}/publish`,
      subscribeUrl: `wss://127.0.0.1:${suite.subscribePort}/subscribe`,
      publishBase: `https://127.0.0.1:${suite.publishPort}`,
      subscribeBase: `https://127.0.0.1:${suite.subscribePort}`,
      grpcTarget: `localhost:${grpcPort}`,
      caFile: options.caFile,
      auth: AUTH,
      label,
      topic: 'http',
      count,
      singleCount: options.quick ? 2_000 : count,
      window: 1_000,
      inFlight: 8,
      batch: 100,
      timeoutMs: 10_000 + count * 2,
    };
    child = new TsChild('http client', { entry: 'bench/http/client.ts', argv: [JSON.stringify(config)] }, {});
    const running = child;
    guard = setTimeout(() => running.child.kill('SIGKILL'), 4 * config.timeoutMs);
    const line = await child.waitForLine((text) => text.startsWith(HTTP_RESULT_PREFIX));
    const result = JSON.parse(line.slice(HTTP_RESULT_PREFIX.length)) as HttpResult;
    const code = await child.exited;
    const rows = httpRows(result);
    const ratios = {
      httpSingleOverWss: ratio(result.httpSingle.perSec, result.wss.perSec),
      httpBatchOverWss: ratio(result.httpBatch.perSec, result.wss.perSec),
      sseOverWssDelivery: ratio(result.sseDelivery.perSec, result.wssDelivery.perSec),
      grpcOverWssDelivery: ratio(result.grpcDelivery.perSec, result.wssDelivery.perSec),
    };
    progress(
      `[http] wss ${formatRate(result.wss.perSec)}/s; POST ×1 ${formatRatio(ratios.httpSingleOverWss)}, ×100 ${formatRatio(ratios.httpBatchOverWss)}; SSE ${formatRatio(ratios.sseOverWssDelivery)}, gRPC ${formatRatio(ratios.grpcOverWssDelivery)} of wss delivery (${((performance.now() - began) / 1000).toFixed(1)} s)`,
    );
    const errors = code === 0 ? [] : [`http client exited ${code}`];
    return {
      rows,
      json: { config, result, ratios, unexpectedLogLines: suite.unexpectedLogLines(), errors },
      errors,
    };
  } catch (err) {
    const stderr = child?.stderr.slice(-10).map((text) => `http client: ${text}`) ?? [];
    const error = [(err as Error).message, ...stderr].join('\n');
    progress(`[http] FAILED: ${error}`);
    return { rows: [], json: { errors: [error] }, errors: [error] };
  } finally {
    clearTimeout(guard);
    await child?.stop('SIGKILL');
    await suite?.stop();
  }
}
