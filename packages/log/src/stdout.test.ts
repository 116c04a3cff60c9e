import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { StdoutDestination } from './stdout.js';

/** A stream that takes writes and finishes none of them until `release()`: a reader that stopped. */
function stalled(): { stream: Writable; chunks: string[]; release: () => void } {
  const chunks: string[] = [];
  const held: (() => void)[] = [];
  let released = false;
  const stream = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      if (released) callback();
      else held.push(callback);
    },
  });
  const release = () => {
    released = true;
    held.splice(0).forEach((callback) => callback());
  };
  return { stream, chunks, release };
}

describe('StdoutDestination', () => {
  test('a write error (EPIPE: the reader is gone) ends the output and throws nothing', async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const destination = new StdoutDestination(stream);
    destination.write('one\n');
    await new Promise((resolveTick) => setImmediate(resolveTick));
    expect(() => destination.write('two\n')).not.toThrow();
    await destination.flush(10_000);
  });

  test('flush waits for the lines to leave, and gives up after its timeout', async () => {
    const { stream, release } = stalled();
    const destination = new StdoutDestination(stream);
    destination.write('a line longer than the high-water mark\n');
    destination.write('and another\n');
    const gaveUp = destination.flush(1);
    await gaveUp;
    const flushed = destination.flush(60_000);
    release();
    await flushed;
    expect(stream.writableLength).toBe(0);
  });

  test('beyond 4 MiB unsent, lines are dropped and counted, then reported once it drains', async () => {
    const { stream, chunks, release } = stalled();
    const destination = new StdoutDestination(stream);
    const line = `${'x'.repeat(1024 * 1024)}\n`;
    for (let i = 0; i < 7; i++) destination.write(line);
    expect(destination.dropped).toBe(3);
    release();
    await destination.flush(60_000);
    destination.write('after\n');
    expect(chunks.slice(-2)).toEqual([expect.stringContaining('"dropped":3'), 'after\n']);
    expect(destination.dropped).toBe(0);
  });
});
