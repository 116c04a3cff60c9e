import type { Options, ScenarioName, Section } from './args.js';
import type { SystemId } from './systems.js';
import type { ScenarioSpec } from './types.js';

/** One scenario and the systems it runs on, each `repeats` times, back to back. */
export interface Plan {
  readonly name: ScenarioName;
  readonly spec: ScenarioSpec;
  readonly systems: readonly SystemId[];
  readonly repeats: number;
}

const COMPARED: readonly SystemId[] = ['file', 'memory', 'ceiling'];
/** The optimisation switches are compared on the memory store: the disk does not blur them there. */
const OPTIMISATIONS: readonly SystemId[] = ['memory', 'memory-unopt'];

function specs(quick: boolean): Record<ScenarioName, ScenarioSpec> {
  const count = quick ? 10_000 : 50_000;
  // A hundred deliveries per message: fewer messages, and a window that keeps each socket's
  // backlog well under the subscriber's slow-consumer limit (1 MiB).
  const fanoutCount = quick ? 1_000 : 2_000;
  const durationMs = quick ? 2_000 : 5_000;
  const tp = (publishers: number, subscribers: number): ScenarioSpec => ({
    kind: 'throughput',
    label: `tp${publishers}x${subscribers}`,
    publishers,
    subscribers,
    count: subscribers > 1 ? fanoutCount : count,
    window: subscribers > 1 ? 200 : 1_000,
  });
  const lat = (rate: number): ScenarioSpec => ({ kind: 'latency', label: `lat${rate / 1000}k`, rate, durationMs });
  return {
    tp1x1: tp(1, 1),
    tp4x1: tp(4, 1),
    tp1x100: tp(1, 100),
    tp4x100: tp(4, 100),
    lat1k: lat(1_000),
    lat5k: lat(5_000),
    lat20k: lat(20_000),
  };
}

/** The sections this driver runs itself (the fan-out, burst and HTTP modules are separate). */
type ChainSection = Exclude<Section, 'fanout' | 'burst' | 'http' | 'grpc' | 'bridge' | 'webhook' | 'peers' | 'go'>;

/**
 * What each section runs on which systems. Quick mode (CI: under a minute with the fan-out
 * module, and each chain takes seconds to start) keeps what the targets need plus the bare
 * chain's latency (is the machine noisy right now?), checks the fan-out path on the default suite
 * only, and leaves the optimisations out unless `--only` names them.
 */
function sections(options: Options): Record<ChainSection, [ScenarioName, readonly SystemId[]][]> {
  const each = (names: ScenarioName[], systems: readonly SystemId[]) =>
    names.map((name): [ScenarioName, readonly SystemId[]] => [name, systems]);
  if (options.quick) {
    const { sections, systems } = options.only;
    const optimisations = sections?.has('optimisations') === true || systems?.has('memory-unopt') === true;
    return {
      throughput: [...each(['tp1x1'], COMPARED), ['tp4x100', ['file']]],
      latency: [['lat5k', ['file', 'ceiling']]],
      optimisations: optimisations ? each(['tp1x1', 'lat5k'], OPTIMISATIONS) : [],
    };
  }
  return {
    throughput: each(['tp1x1', 'tp4x1', 'tp1x100', 'tp4x100'], COMPARED),
    latency: each(['lat1k', 'lat5k', 'lat20k'], COMPARED),
    optimisations: each(['tp1x1', 'lat5k'], OPTIMISATIONS),
  };
}

/** The selected scenarios in running order, each with the union of the systems its sections want. */
export function plans(options: Options): Plan[] {
  const { only } = options;
  const all = specs(options.quick);
  const wanted = new Map<ScenarioName, Set<SystemId>>();
  for (const [section, entries] of Object.entries(sections(options))) {
    if (only.sections !== undefined && !only.sections.has(section as Section)) continue;
    for (const [name, systems] of entries) {
      if (only.scenarios !== undefined && !only.scenarios.has(name)) continue;
      const set = wanted.get(name) ?? new Set<SystemId>();
      for (const id of systems) if (only.systems === undefined || only.systems.has(id)) set.add(id);
      wanted.set(name, set);
    }
  }
  return (Object.keys(all) as ScenarioName[])
    .filter((name) => (wanted.get(name)?.size ?? 0) > 0)
    .map((name) => ({
      name,
      spec: all[name],
      systems: [...(wanted.get(name) ?? [])],
      repeats: options.repeat,
    }));
}
