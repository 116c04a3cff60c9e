import type { SystemId } from './systems.js';

/** Parts of the benchmark `--only` can pick, besides scenario and system names. */
export const SECTIONS = [
  'throughput',
  'latency',
  'optimisations',
  'fanout',
  'burst',
  'http',
  'grpc',
  'bridge',
  'webhook',
  'peers',
  'go',
] as const;
export type Section = (typeof SECTIONS)[number];

export const SCENARIO_NAMES = ['tp1x1', 'tp4x1', 'tp1x100', 'tp4x100', 'lat1k', 'lat5k', 'lat20k'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export const SYSTEM_IDS: readonly SystemId[] = ['file', 'memory', 'ceiling', 'memory-unopt'];

/**
 * `--only a,b,…`: names of sections, scenarios and systems. A run is selected when it matches one
 * of the names given of each kind; kinds without a name match everything. The fan-out and burst
 * modules run when there is no `--only` or it names `fanout` / `burst`; the HTTP and bridge sections likewise with `http` / `bridge`.
 */
export interface Selection {
  /** As given, for the report. */
  readonly names: readonly string[] | undefined;
  readonly sections: ReadonlySet<Section> | undefined;
  readonly scenarios: ReadonlySet<ScenarioName> | undefined;
  readonly systems: ReadonlySet<SystemId> | undefined;
  readonly fanout: boolean;
  readonly burst: boolean;
  readonly http: boolean;
  /** PostgreSQL and RabbitMQ through the bridge, against wss publish. */
  readonly bridge: boolean;
  /** The webhook section (bench/webhook). */
  readonly webhook: boolean;
  /** NATS JetStream and Redis Streams beside our chain: not in --quick unless named. */
  readonly peers: boolean;
  /** The original Go implementation beside ours (bench/peers/go-original.ts): not in --quick unless named. */
  readonly go: boolean;
}

export interface Options {
  readonly quick: boolean;
  readonly profile: boolean;
  readonly logLevel: string;
  /** Runs of every scenario on every system. */
  readonly repeat: number;
  readonly only: Selection;
}

export const USAGE = `usage: pnpm bench [--quick] [--repeat <n>] [--only <names>] [--profile] [--log-level warn|info]
  --only takes a comma-separated list of
    sections:  ${SECTIONS.join(', ')}
    scenarios: ${SCENARIO_NAMES.join(', ')}
    systems:   ${SYSTEM_IDS.join(', ')}`;

function bad(text: string): never {
  process.stderr.write(`${text}\n${USAGE}\n`);
  process.exit(2);
}

function selection(list: string | undefined): Selection {
  if (list === undefined) {
    return {
      names: undefined,
      sections: undefined,
      scenarios: undefined,
      systems: undefined,
      fanout: true,
      burst: true,
      http: true,
      bridge: true,
      webhook: true,
      peers: true,
      go: true,
    };
  }
  const names = list.split(',').filter(Boolean);
  const pick = <T extends string>(vocabulary: readonly T[]) => {
    const found = names.filter((name): name is T => (vocabulary as readonly string[]).includes(name));
    return found.length === 0 ? undefined : new Set(found);
  };
  const known = [...SECTIONS, ...SCENARIO_NAMES, ...SYSTEM_IDS] as readonly string[];
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0 || names.length === 0) bad(`--only: unknown name(s) ${unknown.join(', ') || '(none given)'}`);
  const sections = pick(SECTIONS);
  return {
    names,
    sections,
    scenarios: pick(SCENARIO_NAMES),
    systems: pick(SYSTEM_IDS),
    fanout: sections?.has('fanout') ?? false,
    burst: sections?.has('burst') ?? false,
    // gRPC deliveries are measured in the HTTP section's run, against the same wss stream.
    http: (sections?.has('http') ?? false) || (sections?.has('grpc') ?? false),
    bridge: sections?.has('bridge') ?? false,
    webhook: sections?.has('webhook') ?? false,
    peers: sections?.has('peers') ?? false,
    go: sections?.has('go') ?? false,
  };
}

export function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  let profile = false;
  let logLevel = 'warn';
  let repeat: number | undefined;
  let only: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.split('=', 2) as [string, string | undefined];
    // `--flag value` or `--flag=value`
    const value = () => inline ?? argv[++i] ?? bad(`${arg} needs a value`);
    if (arg === '--') continue;
    else if (arg === '--quick') quick = true;
    else if (arg === '--profile') profile = true;
    else if (flag === '--log-level') logLevel = value();
    else if (flag === '--only') only = value();
    else if (flag === '--repeat') {
      repeat = Number(value());
      if (!Number.isInteger(repeat) || repeat < 1) bad(`bad argument ${arg}`);
    } else bad(`bad argument ${arg}`);
  }
  return { quick, profile, logLevel, repeat: repeat ?? (quick ? 1 : 3), only: selection(only) };
}
