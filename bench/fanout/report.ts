/** Turns the measured scales into the rows and targets the bench prints (index.ts formats them). */
import { median } from '../stats.js';
import type { RunRecord, ScaleRecord, SystemRecord } from './scale.js';
import type { System } from './types.js';

export interface FanoutRow {
  label: string;
  value: number;
  unit: string;
  note?: string;
}

/** A target as the fan-out JSON keeps it: `measured` a number (the bench prints it as Target's text). */
export interface FanoutTarget {
  name: string;
  goal: string;
  measured: number;
  pass: boolean;
  /** For bench/results/summary.json: the figure checked against the goal (ours ÷ baseline), and both sides. */
  ratio: number;
  ours: number;
  baseline: number;
  unit: string;
}

const RATIO_GOAL = 3;
/** Issue #19's goals at S=10,000 against Socket.IO: deliveries/s ≥ 5×, idle memory per socket ≤ 0.7×. */
const ISSUE_RATIO_GOAL = 5;
const ISSUE_MEMORY_RATIO_GOAL = 0.7;
const DELIVERIES_GOAL = 300_000;
const MEMORY_GOAL_KB = 35;
/** The scale at which the absolute goals are set. */
const GOAL_SOCKETS = 10_000;
/** KB here is 1,024 bytes. */
const KB = 1024;

const NAMES: Readonly<Record<System, string>> = { suite: 'suite', 'socket.io': 'Socket.IO' };
const count = (n: number) => n.toLocaleString('en-US');
const kilo = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k` : n.toFixed(0));

function systemOf(scale: ScaleRecord, system: System): SystemRecord | undefined {
  return scale.systems.find((record) => record.system === system);
}

function medianRate(record: SystemRecord): number {
  return median(record.runs.map((run) => run.deliveriesPerSec));
}

/** Every one of the S sockets opened, and got every message of every run. */
function allComplete(scale: ScaleRecord, record: SystemRecord): boolean {
  return record.connect.opened === scale.sockets && record.runs.every((run) => run.complete);
}

/** What went wrong in the runs that were not complete, or undefined. */
function incompleteness(runs: readonly RunRecord[]): string | undefined {
  const bad = runs.filter((run) => !run.complete);
  if (bad.length === 0) return undefined;
  const worst = bad.reduce((a, b) => (a.delivered <= b.delivered ? a : b));
  const { short, over, other, closed } = worst.sinks;
  const closedText = Object.keys(closed).length > 0 ? `, closed ${JSON.stringify(closed)}` : '';
  return (
    `INCOMPLETE in ${bad.length} of ${runs.length} runs; worst: ${count(worst.delivered)} of ${count(worst.expected)} delivered, ` +
    `${short} sockets short, ${over} over, ${other} other frames${closedText}${worst.stalled ? ', stalled' : ''}`
  );
}

function fanoutRow(scale: ScaleRecord, record: SystemRecord): FanoutRow {
  const rates = record.runs.map((run) => run.deliveriesPerSec);
  const spread = rates.length > 1 ? ` (${kilo(Math.min(...rates))}–${kilo(Math.max(...rates))})` : '';
  const runs = record.runs.length === 1 ? '1 run' : `median of ${rates.length}${spread}`;
  const bytes = median(record.runs.map((run) => run.sinks.bytes / Math.max(1, run.delivered)));
  const perRead = median(record.runs.map((run) => run.delivered / Math.max(1, run.sinks.reads)));
  const cpu = median(record.runs.map((run) => run.serverCpuUsPerDelivery));
  const missing = record.connect.opened < scale.sockets ? `; ONLY ${count(record.connect.opened)} SOCKETS OPENED` : '';
  const checked = (incompleteness(record.runs) ?? `every socket got all ${count(scale.messages)}`) + missing;
  return {
    label: `fan-out S=${count(scale.sockets)}: ${NAMES[record.system]}`,
    value: medianRate(record),
    unit: 'deliveries/s',
    note:
      `${runs}; M=${count(scale.messages)}, ${bytes.toFixed(0)} B/frame, ${perRead.toFixed(1)} frames/read, ` +
      `server ${cpu.toFixed(1)} µs CPU/delivery; ${checked}`,
  };
}

function connectRow(scale: ScaleRecord, record: SystemRecord): FanoutRow {
  const { connect } = record;
  const failed = connect.failed > 0 ? `; ${connect.failed} FAILED: ${connect.errors.join('; ')}` : '';
  const steps = record.system === 'suite' ? 'sub' : 'namespace + join';
  return {
    label: `connect S=${count(scale.sockets)}: ${NAMES[record.system]}`,
    value: connect.perSec,
    unit: 'conn/s',
    note: `${count(connect.opened)} in ${(connect.ms / 1000).toFixed(1)} s, ${scale.inFlight} in flight; TLS + upgrade + Basic Auth + ${steps}${failed}`,
  };
}

/**
 * A change in V8's young generation between the two readings moves RSS by up to its size, with
 * no socket involved: worth knowing when reading a per-socket figure (most at S=1,000).
 */
function youngGeneration(memory: SystemRecord['memory']): string {
  const [before, after] = [memory.before.newSpace, memory.after.newSpace];
  if (before === after) return '';
  return `; young generation ${(before / 2 ** 20).toFixed(0)} → ${(after / 2 ** 20).toFixed(0)} MiB`;
}

function memoryRow(scale: ScaleRecord, record: SystemRecord): FanoutRow {
  const { memory } = record;
  return {
    label: `memory per idle socket S=${count(scale.sockets)}: ${NAMES[record.system]}`,
    value: memory.rssPerSocket / KB,
    unit: 'KB',
    note: `server RSS delta after GC ÷ sockets; heap ${(memory.heapPerSocket / KB).toFixed(1)} KB${youngGeneration(memory)}`,
  };
}

export function rowsOf(scales: readonly ScaleRecord[]): FanoutRow[] {
  const rows: FanoutRow[] = [];
  for (const scale of scales) {
    const [suite, socketIo] = [systemOf(scale, 'suite'), systemOf(scale, 'socket.io')];
    const records = [suite, socketIo].filter((record) => record !== undefined);
    rows.push(...records.map((record) => fanoutRow(scale, record)));
    if (suite !== undefined && socketIo !== undefined) {
      rows.push({
        label: `fan-out S=${count(scale.sockets)}: suite ÷ Socket.IO`,
        value: medianRate(suite) / medianRate(socketIo),
        unit: '×',
        note: 'ratio of the medians',
      });
    }
    rows.push(...records.map((record) => connectRow(scale, record)));
    rows.push(...records.map((record) => memoryRow(scale, record)));
  }
  return rows;
}

/** The goals of issue #4: the ratio at every S measured, the absolute ones at S=10,000 only. */
export function targetsOf(scales: readonly ScaleRecord[]): FanoutTarget[] {
  const targets: FanoutTarget[] = [];
  for (const scale of scales) {
    const [suite, socketIo] = [systemOf(scale, 'suite'), systemOf(scale, 'socket.io')];
    if (suite === undefined) continue;
    const complete = allComplete(scale, suite);
    if (socketIo !== undefined) {
      const ratio = medianRate(suite) / medianRate(socketIo);
      targets.push({
        name: `fan-out suite ÷ Socket.IO, S=${count(scale.sockets)}`,
        measured: ratio,
        goal: `≥ ${RATIO_GOAL}×`,
        pass: complete && allComplete(scale, socketIo) && ratio >= RATIO_GOAL,
        ratio,
        ours: medianRate(suite),
        baseline: medianRate(socketIo),
        unit: 'deliveries/s',
      });
    }
    if (socketIo !== undefined) targets.push(cpuTarget(scale, suite, socketIo));
    if (scale.sockets !== GOAL_SOCKETS) continue;
    if (socketIo !== undefined) targets.push(...issueTargets(scale, suite, socketIo));
    targets.push(
      {
        name: `fan-out deliveries/s, suite, S=${count(scale.sockets)}`,
        measured: medianRate(suite),
        goal: `≥ ${count(DELIVERIES_GOAL)}/s, every socket gets every message`,
        pass: complete && medianRate(suite) >= DELIVERIES_GOAL,
        ratio: medianRate(suite) / DELIVERIES_GOAL,
        ours: medianRate(suite),
        baseline: DELIVERIES_GOAL,
        unit: 'deliveries/s',
      },
      {
        name: `memory per idle wss socket, suite, S=${count(scale.sockets)}`,
        measured: suite.memory.rssPerSocket / KB,
        goal: `≤ ${MEMORY_GOAL_KB} KB (RSS), all S sockets open`,
        pass: suite.connect.opened === scale.sockets && suite.memory.rssPerSocket / KB <= MEMORY_GOAL_KB,
        ratio: suite.memory.rssPerSocket / KB / MEMORY_GOAL_KB,
        ours: suite.memory.rssPerSocket / KB,
        baseline: MEMORY_GOAL_KB,
        unit: 'KB',
      },
    );
  }
  return targets;
}

/** Every server process's CPU (user + system, /proc) per delivery, median of the runs: µs = CPU-s per 1M deliveries. */
const serversCpu = (record: SystemRecord) => median(record.runs.map((run) => run.serversCpuUsPerDelivery));

function cpuTarget(scale: ScaleRecord, suite: SystemRecord, socketIo: SystemRecord): FanoutTarget {
  const [ours, theirs] = [serversCpu(suite), serversCpu(socketIo)];
  return {
    name: `CPU-s per 1M deliveries, all server processes, S=${count(scale.sockets)}: suite ÷ Socket.IO`,
    measured: ours / theirs,
    goal: '≤ 1×',
    pass: ours / theirs <= 1,
    ratio: ours / theirs,
    ours,
    baseline: theirs,
    unit: 'CPU-s per 1M',
  };
}

function issueTargets(scale: ScaleRecord, suite: SystemRecord, socketIo: SystemRecord): FanoutTarget[] {
  const [rate, rateIo] = [medianRate(suite), medianRate(socketIo)];
  const [memory, memoryIo] = [suite.memory.rssPerSocket / KB, socketIo.memory.rssPerSocket / KB];
  return [
    {
      name: `fan-out deliveries/s, S=${count(scale.sockets)}: suite ÷ Socket.IO (issue #19)`,
      measured: rate / rateIo,
      goal: `≥ ${ISSUE_RATIO_GOAL}×`,
      pass: allComplete(scale, suite) && allComplete(scale, socketIo) && rate / rateIo >= ISSUE_RATIO_GOAL,
      ratio: rate / rateIo,
      ours: rate,
      baseline: rateIo,
      unit: 'deliveries/s',
    },
    {
      name: `idle memory per wss socket, S=${count(scale.sockets)}: suite ÷ Socket.IO`,
      measured: memory / memoryIo,
      goal: `≤ ${ISSUE_MEMORY_RATIO_GOAL}×`,
      pass: suite.connect.opened === scale.sockets && memory / memoryIo <= ISSUE_MEMORY_RATIO_GOAL,
      ratio: memory / memoryIo,
      ours: memory,
      baseline: memoryIo,
      unit: 'KB',
    },
  ];
}
