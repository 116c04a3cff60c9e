import { ERRORS, type ErrorCode } from '@pubsub/protocol';
import { captureLogs } from '@pubsub/testkit';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ServiceMetrics } from './metrics.js';
import { noteRefusal, refuseRequest } from './refuse.js';
import { rejectionOf } from './reject.js';

async function rejectedCount(metrics: ServiceMetrics, code: ErrorCode): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('pubsub_rejected_total')?.get();
  return metric?.values.find((value) => value.labels.code === code)?.value ?? 0;
}

describe('rejectionOf', () => {
  it.each(Object.keys(ERRORS) as ErrorCode[])('%s takes its status and message from the table', (code) => {
    expect(rejectionOf(code)).toEqual({ status: ERRORS[code].http, code, message: ERRORS[code].message });
  });

  it('keeps a precise message and the extra headers and place', () => {
    const rejection = rejectionOf('RATE_LIMITED', 'slow down', {
      headers: { 'Retry-After': '2' },
      where: { index: 3 },
    });
    expect(rejection).toEqual({
      status: 429,
      code: 'RATE_LIMITED',
      message: 'slow down',
      headers: { 'Retry-After': '2' },
      where: { index: 3 },
    });
  });
});

describe('noteRefusal', () => {
  it('counts by code and logs at debug with the fields given', async () => {
    const metrics = new ServiceMetrics('test');
    const logs = captureLogs();
    noteRefusal({ log: logs.logger, metrics }, 'TOPIC_FORBIDDEN', { ref: 'm1' });
    noteRefusal({ log: logs.logger, metrics }, 'TOPIC_FORBIDDEN');
    expect(await rejectedCount(metrics, 'TOPIC_FORBIDDEN')).toBe(2);
    expect(logs.lines[0]).toMatchObject({ level: 'debug', msg: 'refused', code: 'TOPIC_FORBIDDEN', ref: 'm1' });
  });
});

describe('refuseRequest', () => {
  it('answers with the status, headers and JSON body, and records the refusal', async () => {
    const metrics = new ServiceMetrics('test');
    const logs = captureLogs();
    const server = createServer((_req, res) =>
      refuseRequest(
        res,
        { log: logs.logger, metrics },
        rejectionOf('UNAVAILABLE', 'later', { headers: { 'Retry-After': '1' } }),
      ),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/' });
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      let body = '';
      for await (const chunk of res) body += String(chunk);
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(body)).toEqual({ statusCode: 503, code: 'UNAVAILABLE', message: 'later' });
      expect(await rejectedCount(metrics, 'UNAVAILABLE')).toBe(1);
      expect(logs.lines).toContainEqual(
        expect.objectContaining({ msg: 'refused', code: 'UNAVAILABLE', reason: 'later' }),
      );
    } finally {
      server.close();
    }
  });
});
