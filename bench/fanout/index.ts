/**
 * The fan-out benchmark (issue #4 items 3, 4 and 6): deliveries per second from one publisher to
 * S subscriber sockets on one topic, the memory each idle socket costs the server and the rate
 * at which sockets can be opened, for our subscriber service and for a Socket.IO peer. See
 * bench/fanout/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { machineInfo } from '../probe.js';
import type { ModuleReport } from '../report.js';
import type { ModuleOptions } from '../section.js';
import { fileStamp, formatRate, roundDeep } from '../stats.js';
import { PUBLISH_WINDOW } from './publish.js';
import { rowsOf, targetsOf } from './report.js';
import { runScale, type ScaleRecord, type ScaleSpec } from './scale.js';

/** Quick: S=1,000 only, one run (well under 25 s); `resultsDir`: where `<date>-fanout.json` is written. */
type FanoutOptions = ModuleOptions & { readonly resultsDir: string };

/** Deliveries per run at every S: M = 400,000 / S, as in the baseline (B3); quick mode a quarter. */
const DELIVERIES_PER_RUN = 400_000;
const QUICK_DELIVERIES_PER_RUN = 100_000;
/** Handshakes in flight while opening sockets, as in the baseline (B5). */
const IN_FLIGHT = 50;
/** Sockets one sink process holds at most: at 10,000 the sinks need two processes (two cores). */
const SOCKETS_PER_SINK = 5_000;

function plan(options: FanoutOptions): ScaleSpec[] {
  const sizes = options.quick ? [1_000] : [1_000, 10_000];
  return sizes.map((sockets) => {
    const messages = Math.round((options.quick ? QUICK_DELIVERIES_PER_RUN : DELIVERIES_PER_RUN) / sockets);
    return {
      sockets,
      messages,
      // A whole run's worth: with a tenth, the suite's first measured run was still markedly
      // slower than the next ones.
      warmupMessages: messages,
      repeat: options.quick ? 1 : options.repeat,
      sinkProcesses: Math.ceil(sockets / SOCKETS_PER_SINK),
      inFlight: IN_FLIGHT,
      settleMs: options.quick ? 500 : 2_000,
    };
  });
}

/**
 * Runs the module and gives its rows and targets in the bench's terms (the JSON keeps them as
 * numbers), or why it failed.
 */
export async function runFanout(options: FanoutOptions): Promise<ModuleReport> {
  try {
    const { rows, targets, json } = await measure(options);
    const number = (value: number) => (Math.abs(value) >= 10_000 ? formatRate(value) : String(+value.toFixed(2)));
    return {
      rows: rows.map((row) => ({
        label: row.label,
        value: `${number(row.value)} ${row.unit}${row.note === undefined ? '' : ` (${row.note})`}`,
      })),
      targets: targets.map((target) => ({
        ...target,
        name: `fan-out: ${target.name}`,
        measured: number(target.measured),
      })),
      json,
      errors: [],
    };
  } catch (err) {
    const error = (err as Error).stack ?? String(err);
    return { rows: [], targets: [], json: { error }, errors: [error] };
  }
}

async function measure(options: FanoutOptions) {
  const startedAt = new Date();
  const wallStart = performance.now();
  const machine = machineInfo();
  const scales: ScaleRecord[] = [];
  for (const spec of plan(options)) scales.push(await runScale(spec, options));
  const rows = rowsOf(scales);
  const targets = targetsOf(scales);
  const file = join(options.resultsDir, `${fileStamp(startedAt)}-fanout.json`);
  const json = roundDeep({
    module: 'fanout',
    startedAt: startedAt.toISOString(),
    wallMs: performance.now() - wallStart,
    file,
    settings: {
      quick: options.quick,
      repeat: options.quick ? 1 : options.repeat,
      msgqueueStore: 'memory',
      subscriberMaxBufferedBytes: 'default (1 MiB)',
      publishWindow: PUBLISH_WINDOW,
    },
    machine: { ...machine, loadAverageAtEnd: loadavg() },
    rows,
    targets,
    scales,
  });
  mkdirSync(options.resultsDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return { rows, targets, json };
}
