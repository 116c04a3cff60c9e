/**
 * The original Go implementation (Javivi/ws-go) beside ours on the same ports, driven by the same
 * client (go-client.ts): 1→1 msgs/s and the three services' CPU per message, `--repeat` rounds of
 * the Go services, ours with the file store and ours with the memory store, one system at a time
 * in rotated order. It runs only when BENCH_GO_ORIGINAL_DIR names a folder with the three Go
 * binaries, built beside the project from the original's public source (docs/performance.md);
 * nothing of the original is in this repository. See bench/README.md ("The original Go
 * implementation").
 */
import { createServer } from 'node:net';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { DEV_AUTH, within } from '@pubsub/testkit';
import type { Options } from '../args.js';
import { reported, told } from '../child.js';
import { failRun, TsChild } from '../process.js';
import type { ExtraRow, ModuleReport, Target } from '../report.js';
import { integrityNote, runSection, type SectionOptions } from '../section.js';
import { answeringHttps, Suite } from '../services.js';
import { formatRate, formatRatio, median, perSecond, ratio } from '../stats.js';
import { ROLES, type Role } from '../systems.js';
import { executable, spawnServerProcess, stopper } from './brokers.js';
import { cpuOf, paired } from './index.js';
import type { GoClientConfig, GoClientResult } from './types.js';

export const GO_ORIGINAL_DIR = 'BENCH_GO_ORIGINAL_DIR';
/** The original's ports are hard-coded (localhost:8080–8082); ours is given the same ones. */
const PORTS = { queue: 8080, publish: 8081, subscribe: 8082 } as const;
const PORT_OF: Record<Role, number> = { msgqueue: PORTS.queue, publisher: PORTS.publish, subscriber: PORTS.subscribe };
const WINDOW = 1_000;
/**
 * Ours runs in fresh, JIT-compiling processes: after a 2,000-message warm-up its services still
 * cost two to three times their steady CPU per message (side by side here: 40.7 µs per hop, 15.3
 * after 12,000), while the Go binaries are compiled ahead of time. 10,000 is past that here.
 */
const WARMUP = 10_000;

type SystemId = 'go' | 'file' | 'memory';
const SYSTEM_IDS: readonly SystemId[] = ['go', 'file', 'memory'];
const NAMES: Record<SystemId, string> = {
  go: 'Go original (non-durable)',
  file: 'ours, file store (durable)',
  memory: 'ours, memory store',
};

const THROUGHPUT = '1→1 msgs/s, same client, same ports: durable ours ÷ the original Go implementation';
const CPU_PER_HOP = 'service CPU per message per hop, 1→1: ours ÷ the original Go implementation';

/** The section's two summary rows when it did not measure, saying why. */
function notMeasured(reason: string): Target[] {
  return [
    { name: THROUGHPUT, goal: '≥ 1.00×', measured: `not measured: ${reason}`, pass: false },
    { name: CPU_PER_HOP, goal: '≤ 1.00×', measured: `not measured: ${reason}`, pass: false },
  ];
}

/** One system's run: its client's result and the services' CPU over the measured part. */
export interface GoSideRun {
  readonly system: SystemId;
  readonly repeat: number;
  readonly result: GoClientResult;
  /** Distinct measured deliveries ÷ (first measured send → last delivery). */
  readonly perSec: number;
  /** CPU ms (user + system, /proc) of each service from just before the first measured send until the last delivery. */
  readonly cpuMs: Record<Role, number>;
  /** All three services' CPU per delivered message, and that ÷ 3 (three processes on the path on both sides). */
  readonly serviceUs: number;
  readonly perHopUs: number;
}

interface Running {
  readonly pids: Record<Role, number>;
  stop(): Promise<unknown>;
}

/** The folder of the Go binaries, or why the section is skipped. */
function binaries(): { dir: string } | { skipped: string } {
  const dir = process.env[GO_ORIGINAL_DIR];
  const how = 'a folder with the original’s msgqueue, publisher and subscriber, built as docs/performance.md says';
  if (dir === undefined || dir === '') return { skipped: `${GO_ORIGINAL_DIR} is not set (${how})` };
  const missing = ROLES.filter((role) => !executable(join(dir, role)));
  return missing.length > 0
    ? { skipped: `${GO_ORIGINAL_DIR}=${dir} has no executable ${missing.join(', ')} (${how})` }
    : { dir };
}

/** Ports of the fixed set that something on this machine already listens on. */
async function busy(ports: readonly number[]): Promise<number[]> {
  const taken = await Promise.all(
    ports.map(async (port) => {
      const server = createServer().listen(port, '127.0.0.1');
      try {
        await once(server, 'listening');
        return undefined;
      } catch {
        return port;
      } finally {
        server.close();
      }
    }),
  );
  return taken.filter((port) => port !== undefined);
}

/**
 * The three Go services, msgqueue first (the others dial it before they listen). Their stdout goes
 * to /dev/null: they print every message, and their errors, there.
 */
async function startGo(dir: string, options: SectionOptions): Promise<Running> {
  const cwd = join(options.work, 'go-original');
  mkdirSync(cwd, { recursive: true });
  // The original concatenates the folder and the file name: the trailing slash is needed.
  const env = { ...process.env, WS_CERT_DIR: `${options.certDir}/` };
  const stops: (() => Promise<unknown>)[] = [];
  const stop = () => Promise.all(stops.map((stopOne) => stopOne()));
  const pids: Partial<Record<Role, number>> = {};
  const start = async (role: Role) => {
    const { child, exited } = spawnServerProcess(join(dir, role), [], {
      cwd,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
    stops.push(stopper(child));
    pids[role] = child.pid ?? -1;
    const output = () => [...stderr, '(its errors went to stdout, i.e. /dev/null)'];
    await answeringHttps({ name: `Go ${role}`, exited, output }, PORT_OF[role], options.ca);
  };
  try {
    await start('msgqueue');
    await Promise.all([start('publisher'), start('subscriber')]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { pids: pids as Record<Role, number>, stop };
}

async function startSystem(id: SystemId, settings: RunSettings): Promise<Running> {
  const { dir, options, repeat } = settings;
  const taken = await busy(Object.values(PORTS));
  if (taken.length > 0) throw new Error(`port(s) ${taken.join(', ')} in use: the original's ports are fixed`);
  if (id === 'go') return startGo(dir, options);
  const dataDir = join(options.work, `go-side-${id}-r${repeat}`);
  mkdirSync(dataDir);
  const suite = await Suite.start({
    store: id,
    certDir: options.certDir,
    ca: options.ca,
    dataDir,
    logLevel: 'warn',
    env: {},
    ports: PORTS,
  });
  return {
    pids: Object.fromEntries(ROLES.map((role) => [role, suite.children[role].pid])) as Record<Role, number>,
    stop: () => suite.stop(),
  };
}

interface RunSettings {
  readonly dir: string;
  readonly options: SectionOptions;
  readonly repeat: number;
  readonly count: number;
}

async function runOnce(id: SystemId, settings: RunSettings): Promise<GoSideRun> {
  const { options, repeat, count } = settings;
  const running = await startSystem(id, settings);
  const [user, password] = DEV_AUTH.split(':') as [string, string];
  const config: GoClientConfig = {
    publishUrl: `wss://127.0.0.1:${PORTS.publish}/publish`,
    subscribeUrl: `wss://127.0.0.1:${PORTS.subscribe}/subscribe`,
    topic: 'bench',
    caFile: options.caFile,
    user,
    password,
    warmup: WARMUP,
    count,
    window: WINDOW,
    timeoutMs: 30_000 + count,
  };
  const client = new TsChild(
    `go-original client ${id}`,
    { entry: 'bench/peers/go-client.ts', argv: [JSON.stringify(config)] },
    {},
  );
  try {
    await told(client, 'warm');
    const before = await cpuOf(running.pids);
    client.child.kill('SIGUSR2');
    const result = await reported<GoClientResult>(client);
    const after = await cpuOf(running.pids);
    // It exits by itself once it has reported.
    const code = await within(client.exited, 10_000, () => `${client.name} exit`);
    if (code !== 0) throw new Error(`the client exited ${code}`);
    const cpuMs = Object.fromEntries(ROLES.map((role) => [role, (after[role] ?? NaN) - (before[role] ?? NaN)]));
    const serviceUs =
      (ROLES.reduce((sum, role) => sum + (cpuMs[role] ?? NaN), 0) * 1000) / Math.max(1, result.delivered);
    return {
      system: id,
      repeat,
      result,
      perSec: perSecond(result.delivered, result.lastDeliveryAt - result.firstSendAt),
      cpuMs: cpuMs as Record<Role, number>,
      serviceUs,
      perHopUs: serviceUs / ROLES.length,
    };
  } catch (err) {
    return await failRun(`go-original ${id} #${repeat + 1}`, [client], err);
  } finally {
    await running.stop();
  }
}

const us = (value: number) => `${value.toFixed(1)} µs`;
const integrityOf = (run: GoSideRun, count: number) =>
  integrityNote({ ...run.result, lost: count - run.result.delivered });

/**
 * The section as run.ts calls it: measured when BENCH_GO_ORIGINAL_DIR is set and `--only` selects
 * it (in --quick only when `--only` names `go`); otherwise its summary rows say why not.
 */
export async function goOriginalSection(
  options: Pick<Options, 'quick' | 'repeat' | 'only'>,
  section: SectionOptions,
  progress: (text: string) => void,
): Promise<ModuleReport> {
  const named = options.only.sections?.has('go') === true;
  const why = !options.only.go
    ? 'not selected by --only'
    : options.quick && !named
      ? '--quick runs it only with --only go'
      : undefined;
  if (why !== undefined) return { rows: [], targets: notMeasured(why), json: undefined, errors: [] };
  progress('go section…');
  const found = binaries();
  if ('skipped' in found) {
    progress(`[go] skipped: ${found.skipped}`);
    return {
      rows: [{ label: 'the original Go implementation', value: `skipped: ${found.skipped}` }],
      targets: notMeasured(found.skipped),
      json: { skipped: found.skipped },
      errors: [],
    };
  }
  const count = options.quick ? 5_000 : 20_000;
  const repeats = options.quick ? 1 : options.repeat;
  const runs: GoSideRun[] = [];
  let targets: Target[] | undefined;
  const began = performance.now();
  const report = await runSection({ name: 'go', progress, failureJson: { runs } }, async () => {
    const errors: string[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      const shift = repeat % SYSTEM_IDS.length;
      for (const id of [...SYSTEM_IDS.slice(shift), ...SYSTEM_IDS.slice(0, shift)]) {
        const where = `[go] ${NAMES[id]} #${repeat + 1}`;
        try {
          const run = await runOnce(id, { dir: found.dir, options: section, repeat, count });
          runs.push(run);
          const note = integrityOf(run, count);
          // Loss, duplicates or a timeout fail ours; on the original they are reported.
          if (note !== '' && id !== 'go') errors.push(`${where}: ${note.slice(2)}`);
          progress(
            `${where}: ${formatRate(run.perSec)} msgs/s, services ${us(run.serviceUs)}/msg (${us(run.perHopUs)} per hop)${note}`,
          );
        } catch (err) {
          errors.push(`${where} FAILED: ${(err as Error).message}`);
          progress(`${where} FAILED: ${(err as Error).message}`);
        }
      }
    }
    const tabled = tables(runs, count);
    targets = tabled.targets;
    return {
      rows: tabled.rows,
      errors,
      json: {
        settings: { count, warmup: WARMUP, window: WINDOW, repeats, ports: PORTS, dir: found.dir },
        runs,
        errors,
      },
    };
  });
  progress(`[go] done (${((performance.now() - began) / 1000).toFixed(1)} s)`);
  return { ...report, targets: targets ?? notMeasured('the section failed (see below the tables)') };
}

interface Figures {
  readonly perSec: number;
  readonly serviceUs: number;
  readonly perHopUs: number;
  readonly byRole: Record<Role, number>;
}

function figuresOf(runs: readonly GoSideRun[]): Figures | undefined {
  if (runs.length === 0) return undefined;
  const m = (pick: (run: GoSideRun) => number) => median(runs.map(pick));
  return {
    perSec: m((run) => run.perSec),
    serviceUs: m((run) => run.serviceUs),
    perHopUs: m((run) => run.perHopUs),
    byRole: Object.fromEntries(
      ROLES.map((role) => [role, m((run) => (run.cpuMs[role] * 1000) / Math.max(1, run.result.delivered))]),
    ) as Record<Role, number>,
  };
}

/** The section's table (each system, ours ÷ the original) and its two targets, durable ours against the original. */
function tables(runs: readonly GoSideRun[], count: number): { rows: ExtraRow[]; targets: Target[] } {
  const of = (id: SystemId) => runs.filter((run) => run.system === id);
  const rows: ExtraRow[] = [];
  for (const id of SYSTEM_IDS) {
    const figures = figuresOf(of(id));
    const notes = of(id)
      .map((run) => integrityOf(run, count))
      .filter(Boolean)
      .join('');
    rows.push({
      label: NAMES[id],
      value:
        figures === undefined
          ? 'no run completed'
          : `${formatRate(figures.perSec)} msgs/s (${of(id)
              .map((run) => formatRate(run.perSec))
              .join(', ')}); services ${us(figures.serviceUs)}/msg (${ROLES.map(
              (role) => `${role} ${us(figures.byRole[role])}`,
            ).join(', ')}), ${us(figures.perHopUs)} per hop${notes}`,
    });
  }
  const go = figuresOf(of('go'));
  let targets = notMeasured('no run of the original or of ours completed');
  for (const id of ['file', 'memory'] as const) {
    const ours = figuresOf(of(id));
    if (go === undefined || ours === undefined) continue;
    const pair = { ours: id, theirs: 'go' } as const;
    const pairedRate = paired(runs, pair, (run) => run.perSec);
    const pairedCpu = paired(runs, pair, (run) => run.perHopUs);
    const rate = pairedRate ?? ratio(ours.perSec, go.perSec);
    const cpu = pairedCpu ?? ratio(ours.perHopUs, go.perHopUs);
    const how = (pairedValue: number | undefined, a: number, b: number) =>
      `${pairedValue === undefined ? '' : `paired ${formatRatio(pairedValue)}; `}medians ${formatRatio(ratio(a, b))}`;
    rows.push({
      label: `${NAMES[id]} ÷ ${NAMES.go}`,
      value: `msgs/s ${how(pairedRate, ours.perSec, go.perSec)}; service CPU per message per hop ${how(pairedCpu, ours.perHopUs, go.perHopUs)}`,
    });
    if (id !== 'file') continue;
    targets = [
      {
        name: THROUGHPUT,
        goal: '≥ 1.00×',
        measured: `${how(pairedRate, ours.perSec, go.perSec)} (${formatRate(ours.perSec)} vs ${formatRate(go.perSec)})`,
        pass: rate >= 1,
        ratio: rate,
        ours: ours.perSec,
        baseline: go.perSec,
        unit: 'msg/s',
      },
      {
        name: CPU_PER_HOP,
        goal: '≤ 1.00×',
        measured: `${how(pairedCpu, ours.perHopUs, go.perHopUs)} (${us(ours.perHopUs)} vs ${us(go.perHopUs)})`,
        pass: cpu <= 1,
        ratio: cpu,
        ours: ours.perHopUs,
        baseline: go.perHopUs,
        unit: 'µs',
      },
    ];
  }
  return { rows, targets };
}
