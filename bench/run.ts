/**
 * The benchmark: `npx -y pnpm@10 bench [--quick] [--repeat n] [--only names] [--profile] [--log-level l]`.
 * Starts each system under test (our three services with the file store, with the memory store,
 * with the memory store and the optimisations off, and the bare ws chain) as child processes, runs
 * every selected scenario on each of them, interleaved, from separate load-generator processes,
 * then the fan-out module; prints the tables and writes bench/results/<date>-bench.json.
 * See bench/README.md.
 */
import { loadServerCertificate } from '@pubsub/tls';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, USAGE } from './args.js';
import { CHAIN_MESSAGE_BUDGET, SystemRunner, type ChainContext } from './chains.js';
import { runBurstModule } from './burst/index.js';
import { runBridgeModule } from './bridge/index.js';
import { runHttpModule } from './http/index.js';
import { runWebhookModule } from './webhook/index.js';
import { goOriginalSection } from './peers/go-original.js';
import { runPeersModule } from './peers/index.js';
import { runFanout } from './fanout/index.js';
import { plans, type Plan } from './plan.js';
import { machineInfo, probeFsync } from './probe.js';
import { ROOT } from './process.js';
import { renderFooter, renderHeader, renderTables, type ModuleReports } from './render.js';
import { summarize, type BenchReport, type ModuleReport, type ScenarioRecord } from './report.js';
import { runScenario, SINK_PROCESSES, warmupFor } from './scenario.js';
import { fileStamp, formatRate, roundDeep } from './stats.js';
import { SYSTEMS, type SystemId } from './systems.js';
import { renderSummary, summaryRows, writeSummary } from './summary.js';
import { chainTargets } from './targets.js';
import { CONTENT, TOPIC, type ScenarioSpec } from './types.js';

const say = (text: string) => process.stdout.write(`${text}\n`);
/** A progress line, with the seconds since the start (the quick mode's budget is a minute). */
const progress = (text: string) => say(`[${(performance.now() / 1000).toFixed(1).padStart(5)} s] ${text}`);

function describe(record: Pick<ScenarioRecord, 'result' | 'throughput' | 'fanout'>): string {
  const { result, throughput, fanout } = record;
  const i = result.integrity;
  const head =
    throughput !== undefined
      ? `acked ${formatRate(throughput.ackedPerSec)}/s, delivered ${formatRate(throughput.deliveredPerSec)}/s` +
        (fanout === undefined ? '' : `, ${formatRate(throughput.deliveriesPerSec)} deliveries/s`)
      : result.kind === 'latency'
        ? `delivery p50 ${result.delivery.p50.toFixed(2)} ms, p99 ${result.delivery.p99.toFixed(2)} ms, p99.9 ${result.delivery.p999.toFixed(2)} ms`
        : '';
  const lost = i.lost + (fanout?.lost ?? 0);
  const duplicated = i.duplicated + (fanout?.extra ?? 0);
  const reordered = i.reordered + (fanout?.reordered ?? 0);
  const timedOut = i.timedOut || fanout?.timedOut === true;
  return `${head}; lost ${lost}, dup ${duplicated}, reordered ${reordered}${timedOut ? ', TIMED OUT' : ''}`;
}

/** Messages a run sends through its chain, warm-up included. */
function messagesOf(spec: ScenarioSpec): number {
  const measured = spec.kind === 'throughput' ? spec.count : Math.ceil((spec.rate * spec.durationMs) / 1000);
  return measured + warmupFor(spec).warmup;
}

/**
 * Each scenario on its systems back to back, rotating which goes first, `repeats` times, so slow
 * drifts of the machine's background load hit every system alike.
 */
async function runPlans(list: readonly Plan[], runners: ReadonlyMap<SystemId, SystemRunner>, caFile: string) {
  for (const plan of list) {
    for (let repeat = 0; repeat < plan.repeats; repeat++) {
      const shift = repeat % plan.systems.length;
      const order = [...plan.systems.slice(shift), ...plan.systems.slice(0, shift)];
      for (const id of order) {
        const runner = runners.get(id);
        if (runner === undefined) continue;
        const spec = { ...plan.spec, label: `${plan.name}r${repeat}` };
        const system = await runner.chainFor(messagesOf(spec), progress);
        if (system === undefined) continue;
        const where = `[${id}] ${plan.name} #${repeat + 1}`;
        const began = performance.now();
        try {
          const record = await runScenario(system, spec, caFile);
          runner.scenarios.push({ ...record, name: plan.name, repeat });
          progress(`${where}: ${describe(record)} (${((performance.now() - began) / 1000).toFixed(1)} s)`);
        } catch (err) {
          runner.errors.push((err as Error).message);
          progress(`${where} FAILED: ${(err as Error).message}`);
          // Whatever went wrong may have left the chain stuck: the next run gets a fresh one.
          await runner.stop();
        }
      }
    }
  }
}

/** A module's or section's report, or none when `--only` leaves it out. */
async function module(wanted: boolean, announce: string, run: () => Promise<ModuleReport>) {
  if (!wanted) return undefined;
  progress(announce);
  return run();
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const list = plans(options);
  const anyModule = (['fanout', 'burst', 'http', 'bridge', 'webhook', 'peers', 'go'] as const).some(
    (name) => options.only[name],
  );
  if (list.length === 0 && !anyModule) {
    process.stderr.write(`--only ${options.only.names?.join(',')} selects nothing in this mode\n${USAGE}\n`);
    process.exit(2);
  }
  const started = performance.now();
  const now = new Date();
  const [date, stamp] = [now.toISOString(), fileStamp(now)];
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'pubsub-bench-'));
  const runners = new Map<SystemId, SystemRunner>();
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  // Exiting kills every child still running (process.ts).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  try {
    const certDir = join(work, 'certs');
    const { cert, certFile } = await loadServerCertificate({ certDir, generate: true });
    const machine = machineInfo();
    progress(`machine: ${machine.cpuModel} × ${machine.cpuCount}, Node ${machine.node}; work dir ${work}`);
    const ids = [...new Set(list.flatMap((plan) => plan.systems))];
    const fsyncProbe = ids.includes('file') ? probeFsync(work, options.quick ? 500 : 2_000) : undefined;
    if (fsyncProbe !== undefined) {
      progress(
        `fsync probe: ${fsyncProbe.commitsPerSec.toFixed(0)} O_DSYNC appends/s on ${fsyncProbe.filesystem ?? work}`,
      );
    }
    const context: ChainContext = {
      work,
      certDir,
      ca: cert,
      logLevel: options.logLevel,
      profileRoot: options.profile ? join(resultsDir, `${stamp}-prof`) : undefined,
    };
    for (const id of ids) runners.set(id, new SystemRunner(SYSTEMS[id], context));
    try {
      // All at once: start-up is mostly each process compiling its TypeScript, and it overlaps.
      await Promise.all([...runners.values()].map((runner) => runner.chainFor(0, progress)));
      await runPlans(list, runners, certFile);
    } finally {
      await Promise.all([...runners.values()].map((runner) => runner.stop()));
    }
    const sectionOptions = { quick: options.quick, work, certDir, ca: cert, caFile: certFile };
    const moduleOptions = { ...sectionOptions, repeat: options.repeat };
    const modules: ModuleReports = {
      fanout: await module(options.only.fanout, 'fan-out module…', () => runFanout({ ...moduleOptions, resultsDir })),
      burst: await module(options.only.burst, 'burst module…', () => runBurstModule(moduleOptions, progress)),
      http: await module(options.only.http, 'http section…', () => runHttpModule(sectionOptions, progress)),
      bridge: await module(options.only.bridge, 'bridge section…', () => runBridgeModule(sectionOptions, progress)),
      webhook: await module(options.only.webhook, 'webhook section…', () => runWebhookModule(sectionOptions, progress)),
      // Too slow for CI: in --quick only when `--only` names it.
      peers: await module(
        options.only.peers && (!options.quick || options.only.sections?.has('peers') === true),
        'peers section…',
        () => runPeersModule(moduleOptions, progress),
      ),
      // Always a report: when not measured, its summary rows say why.
      go: await goOriginalSection(options, sectionOptions, progress),
    };

    const systems = [...runners.values()].map(({ definition, scenarios, chains, errors }) => ({
      id: definition.id,
      title: definition.title,
      env: definition.env,
      scenarios,
      chains,
      errors,
    }));
    const summary = summarize(systems, list);
    const report: BenchReport = {
      name: 'pubsub-bench',
      date,
      quick: options.quick,
      machine,
      settings: {
        repeat: options.repeat,
        only: options.only.names ?? 'everything',
        scenarios: list,
        warmup: list.map((plan) => ({ name: plan.name, ...warmupFor(plan.spec) })),
        sinkProcesses: SINK_PROCESSES,
        contentJsonBytes: Buffer.byteLength(CONTENT),
        exampleMessage: `{"topic":"${TOPIC}","content":${CONTENT},"id":"tp1x1r0-0-0"}`,
        logLevel: options.logLevel,
        profile: options.profile,
        chainMessageBudget: CHAIN_MESSAGE_BUDGET,
      },
      fsyncProbe,
      systems,
      summary,
      targets: [...chainTargets(summary), ...Object.values(modules).flatMap((module) => module?.targets ?? [])],
      fanout: modules.fanout?.json,
      burst: modules.burst?.json,
      http: modules.http?.json,
      bridge: modules.bridge?.json,
      webhook: modules.webhook?.json,
      peers: modules.peers?.json,
      go: modules.go?.json,
      durationS: (performance.now() - started) / 1000,
    };
    const file = join(resultsDir, `${stamp}-bench.json`);
    writeFileSync(file, `${JSON.stringify(roundDeep(report), null, 2)}\n`);
    say('');
    say(renderHeader(report));
    say('');
    say(renderTables(report, list, modules));
    say('');
    const footer = renderFooter(report, modules);
    if (footer !== '') say(`${footer}\n`);
    const rows = summaryRows(report.targets);
    const summaryFile = writeSummary(resultsDir, { date, quick: options.quick, rows });
    say(`### Summary (${summaryFile})\n\n${renderSummary(rows)}\n`);
    say(`total ${report.durationS.toFixed(1)} s; results: ${file}`);
    // A module or scenario that could not run fails the bench; missed targets and losses are reported.
    const failed = systems.some((system) => system.errors.length > 0);
    if (failed || Object.values(modules).some((module) => (module?.errors.length ?? 0) > 0)) process.exitCode = 1;
  } finally {
    cleanup();
  }
}

await main();
