/**
 * bench/results/summary.json: one row per target of the run (issue #19's table and the chain's,
 * fan-out, burst, peers and go-original targets), with the ratio checked, whether it was met, and the absolute
 * figures on both sides; printed as the run's last table.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { markdown } from './render.js';
import type { Target } from './report.js';
import { formatRatio } from './stats.js';

export interface SummaryRow {
  readonly name: string;
  /** The figure checked against `target`: ours ÷ baseline for ratio targets; null when not measured. */
  readonly ratio: number | null;
  readonly target: string;
  readonly met: boolean;
  /** Absolute figures (in `unit`): the baseline measured in the same run (or the goal itself, for absolute goals), and ours. */
  readonly baseline: number | null;
  readonly ours: number | null;
  readonly unit: string | null;
  /** As the targets table prints it. */
  readonly measured: string;
}

const finite = (value: number | undefined) => (value !== undefined && Number.isFinite(value) ? value : null);

export function summaryRows(targets: readonly Target[]): SummaryRow[] {
  return targets.map((target) => ({
    name: target.name,
    ratio: finite(target.ratio),
    target: target.goal,
    met: target.pass,
    baseline: finite(target.baseline),
    ours: finite(target.ours),
    unit: target.unit ?? null,
    measured: target.measured,
  }));
}

/** Writes bench/results/summary.json (overwritten by every run) and returns its path. */
export function writeSummary(dir: string, run: { date: string; quick: boolean; rows: readonly SummaryRow[] }): string {
  const file = join(dir, 'summary.json');
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  return file;
}

const figure = (value: number | null, unit: string | null) =>
  value === null
    ? '–'
    : `${value >= 100 ? Math.round(value).toLocaleString('en-US') : +value.toFixed(2)}${unit === null ? '' : ` ${unit}`}`;

export function renderSummary(rows: readonly SummaryRow[]): string {
  return markdown([
    ['target', 'ratio', 'goal', 'met', 'baseline', 'ours'],
    ...rows.map((row) => [
      row.name,
      row.ratio === null ? (row.unit === null ? row.measured : '–') : formatRatio(row.ratio),
      row.target,
      row.met ? 'yes' : 'no',
      figure(row.baseline, row.unit),
      figure(row.ours, row.unit),
    ]),
  ]);
}
