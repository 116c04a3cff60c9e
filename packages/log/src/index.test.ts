import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { createLogger, type LogLevel } from './index.js';

/**
 * A logger writing into memory. pino writes each line with one synchronous `stream.write`, and a
 * Writable whose callback runs at once passes every chunk on in that call, so the lines are
 * there as soon as the log call returns: no waiting.
 */
function capture(level?: LogLevel): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger(
    level === undefined ? { service: 'svc', destination } : { service: 'svc', level, destination },
  );
  return { logger, text: () => chunks.join('') };
}

function lines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('createLogger', () => {
  test('redacts the authorization header and the password', () => {
    const { logger, text } = capture();
    logger.info({ headers: { authorization: 'Basic xyz' }, password: 'pw' }, 'connected');
    const [line, ...rest] = lines(text());
    expect(rest).toEqual([]);
    expect(line).toMatchObject({
      msg: 'connected',
      headers: { authorization: '[redacted]' },
      password: '[redacted]',
    });
    expect(text()).not.toContain('xyz');
    expect(text()).not.toContain('"pw"');
  });

  test('redacts credentials under req, at the top level and one level down', () => {
    const { logger, text } = capture();
    logger.warn({
      req: { headers: { authorization: 'Basic aaa', host: 'h' } },
      authorization: 'Basic bbb',
      user: { name: 'alice', password: 'ccc' },
      upstream: { authorization: 'Basic ddd' },
    });
    expect(lines(text())).toEqual([
      expect.objectContaining({
        req: { headers: { authorization: '[redacted]', host: 'h' } },
        authorization: '[redacted]',
        user: { name: 'alice', password: '[redacted]' },
        upstream: { authorization: '[redacted]' },
      }),
    ]);
    for (const secret of ['aaa', 'bbb', 'ccc', 'ddd']) expect(text()).not.toContain(secret);
  });

  test('writes the level as a label and the service on every line', () => {
    const { logger, text } = capture('debug');
    logger.debug('one');
    logger.info('two');
    logger.error('three');
    expect(lines(text()).map((line) => [line.level, line.service, line.msg])).toEqual([
      ['debug', 'svc', 'one'],
      ['info', 'svc', 'two'],
      ['error', 'svc', 'three'],
    ]);
  });

  test('logs from info up by default, and nothing at silent', () => {
    const byDefault = capture();
    byDefault.logger.debug('hidden');
    byDefault.logger.info('shown');
    expect(lines(byDefault.text()).map((line) => line.msg)).toEqual(['shown']);

    const silent = capture('silent');
    silent.logger.fatal('hidden');
    expect(silent.text()).toBe('');
  });

  test('child loggers keep the service and the redaction', () => {
    const { logger, text } = capture();
    logger.child({ conn: 7 }).info({ password: 'hunter2' }, 'child');
    expect(lines(text())).toEqual([
      expect.objectContaining({ service: 'svc', conn: 7, password: '[redacted]', msg: 'child' }),
    ]);
  });
});
