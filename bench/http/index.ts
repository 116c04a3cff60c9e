/**
 * The HTTP section: on one durable chain of our three services (defaults, PUBLISHER_RATE_LIMIT=0),
 * in one run, what publishing through `POST /api/messages` (single messages and batches) and
 * reading through `GET /events` achieve against the wss endpoints. See bench/README.md ("HTTP and SSE").
 */
import { DEV_AUTH } from '@pubsub/testkit';
import { performance } from 'node:perf_hooks';
import { reported } from '../child.js';
import { TsChild } from '../process.js';
import type { ExtraRow, ModuleReport } from '../report.js';
import { integrityNote, ofWss, runSection, startSectionChain, type SectionOptions } from '../section.js';
import { freePorts } from '../services.js';
import { formatRate, formatRatio, ratio } from '../stats.js';
import { type HttpConfig, type HttpResult, type PublishFigures } from './types.js';

export const HTTP_ENV = { PUBLISHER_RATE_LIMIT: '0' } as const;

function publishRow(name: string, figures: PublishFigures, baseline: number): ExtraRow {
  const missing = figures.sent - figures.acked;
  return {
    label: name,
    value:
      ofWss(figures.perSec, baseline, ' msg/s') +
      (missing > 0 || figures.timedOut
        ? `; ${figures.acked}/${figures.sent} acked${figures.timedOut ? ', TIMED OUT' : ''}`
        : ''),
  };
}

export function httpRows(result: HttpResult): ExtraRow[] {
  const base = result.wss.perSec;
  const wssDelivery = result.wssDelivery.perSec;
  const delivered = (name: string, figures: HttpResult['wssDelivery'], value: string) => ({
    label: name,
    value: value + integrityNote(figures),
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
      ofWss(result.sseDelivery.perSec, wssDelivery, '/s'),
    ),
    delivered(
      'gRPC Subscribe deliveries, same stream',
      result.grpcDelivery,
      ofWss(result.grpcDelivery.perSec, wssDelivery, '/s'),
    ),
  ];
}

export function runHttpModule(options: SectionOptions, progress: (text: string) => void): Promise<ModuleReport> {
  const label = 'httpr0';
  const count = options.quick ? 5_000 : 20_000;
  const began = performance.now();
  return runSection({ name: 'http', progress }, async (scope) => {
    const [grpcPort] = await freePorts(1);
    const suite = await startSectionChain(options, `http-${label}`, {
      ...HTTP_ENV,
      SUBSCRIBER_GRPC_PORT: String(grpcPort),
    });
    scope.defer(() => suite.stop());
    const config: HttpConfig = {
      publishUrl: `wss://127.0.0.1:${suite.publishPort}/publish`,
      subscribeUrl: `wss://127.0.0.1:${suite.subscribePort}/subscribe`,
      publishBase: `https://127.0.0.1:${suite.publishPort}`,
      subscribeBase: `https://127.0.0.1:${suite.subscribePort}`,
      grpcTarget: `localhost:${grpcPort}`,
      caFile: options.caFile,
      auth: DEV_AUTH,
      label,
      topic: 'http',
      count,
      singleCount: options.quick ? 2_000 : count,
      window: 1_000,
      inFlight: 8,
      batch: 100,
      timeoutMs: 10_000 + count * 2,
    };
    const child = scope.child(
      new TsChild('http client', { entry: 'bench/http/client.ts', argv: [JSON.stringify(config)] }, {}),
      'SIGKILL',
    );
    const guard = setTimeout(() => child.child.kill('SIGKILL'), 4 * config.timeoutMs);
    scope.defer(() => clearTimeout(guard));
    const result = await reported<HttpResult>(child);
    const code = await child.exited;
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
      rows: httpRows(result),
      json: { config, result, ratios, unexpectedLogLines: suite.unexpectedLogLines(), errors },
      errors,
    };
  });
}
