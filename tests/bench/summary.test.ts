import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderSummary, summaryRows, writeSummary } from '../../bench/summary.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('bench summary (bench/results/summary.json)', () => {
  const targets = [
    {
      name: 'durable acked publishes/s, 1 publisher(s): ours ÷ Redis Streams',
      goal: '≥ 1.00×',
      measured: 'paired 0.82×',
      pass: false,
      ratio: 0.82,
      ours: 4_199,
      baseline: 5_554,
      unit: 'msg/s',
    },
    {
      name: 'durable acked publishes/s, 1 publisher(s): ours ÷ NATS JetStream',
      goal: '≥ 1.00×',
      measured: 'not measured: no nats-server',
      pass: false,
    },
    { name: 'a ratio of nothing', goal: '≤ 1.00×', measured: '–', pass: false, ratio: Number.NaN, unit: 'ms' },
  ];

  it('has one row per target with its ratio, goal, result and both figures', () => {
    const rows = summaryRows(targets);
    expect(rows[0]).toEqual({
      name: targets[0]?.name,
      ratio: 0.82,
      target: '≥ 1.00×',
      met: false,
      baseline: 5_554,
      ours: 4_199,
      unit: 'msg/s',
      measured: 'paired 0.82×',
    });
    expect(rows[1]).toMatchObject({ ratio: null, baseline: null, ours: null, unit: null, met: false });
    expect(rows[2]).toMatchObject({ ratio: null, unit: 'ms' });
    expect(rows).toHaveLength(targets.length);
  });

  it('writes the rows as JSON and prints them as a table', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-summary-'));
    dirs.push(dir);
    const rows = summaryRows(targets);
    const file = writeSummary(dir, { date: '2026-12-03T16:00:00.000Z', quick: true, rows });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ date: '2026-12-03T16:00:00.000Z', quick: true, rows });
    const table = renderSummary(rows).split('\n');
    expect(table[0]).toMatch(/^\| target +\| ratio +\| goal +\| met +\| baseline +\| ours +\|$/);
    expect(table[2]).toContain('0.82×');
    expect(table[2]).toContain('5,554 msg/s');
    expect(table[3]).toContain('not measured: no nats-server');
  });
});
