import { describe, expect, test } from 'vitest';
import { decodeQueueStats } from './queue-stats.js';

describe('msgqueue stats', () => {
  test('reads depth and groups, ignoring fields it does not know', () => {
    const text = JSON.stringify({ depth: 3, groups: [{ name: 'default', backlog: 3, consumers: 1, extra: true }] });
    expect(decodeQueueStats(text)).toEqual({ depth: 3, groups: [{ name: 'default', backlog: 3, consumers: 1 }] });
  });

  test.each([
    'not json',
    'null',
    '{"groups":[]}',
    '{"depth":-1,"groups":[]}',
    '{"depth":1,"groups":{}}',
    '{"depth":1,"groups":[{"name":"a","backlog":1.5,"consumers":0}]}',
    '{"depth":1,"groups":[{"backlog":1,"consumers":0}]}',
  ])('refuses %s', (text) => {
    expect(decodeQueueStats(text)).toBeUndefined();
  });
});
