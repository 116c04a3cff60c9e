/**
 * What the one-chain sections (bench/http, bench/webhook, bench/bridge) share: the options run.ts
 * gives them, the report they give back, their durable chain, the failure path with its clean-up,
 * and the "n× of wss" cells of their tables. A new section is its load and its rows.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TsChild } from './process.js';
import type { ModuleReport } from './report.js';
import { Suite } from './services.js';
import { formatRate, formatRatio, ratio } from './stats.js';

export interface SectionOptions {
  readonly quick: boolean;
  readonly work: string;
  readonly certDir: string;
  readonly ca: string;
  readonly caFile: string;
}

/** What run.ts gives the modules that repeat their runs (fan-out, burst, peers). */
export interface ModuleOptions extends SectionOptions {
  /** Runs of each measurement; the figures are their medians (quick mode runs once). */
  readonly repeat: number;
}

/** A section's report: a module's without targets (no section has any). */
export type SectionReport = Omit<ModuleReport, 'targets'>;

/** A reader's integrity over a run: shown only when something is off. */
export interface Integrity {
  readonly lost: number;
  readonly duplicated: number;
  readonly reordered: number;
  readonly timedOut: boolean;
}

/** `; lost 1, dup 0, reordered 0, TIMED OUT`, or nothing when the reader got everything once and in order. */
export function integrityNote(figures: Integrity): string {
  return figures.lost + figures.duplicated + figures.reordered > 0 || figures.timedOut
    ? `; lost ${figures.lost}, dup ${figures.duplicated}, reordered ${figures.reordered}${figures.timedOut ? ', TIMED OUT' : ''}`
    : '';
}

/** `12.3k<unit> (0.45× of wss)`: a rate beside the same run's wss baseline. */
export function ofWss(perSec: number, baseline: number, unit: string): string {
  return `${formatRate(perSec)}${unit} (${formatRatio(ratio(perSec, baseline))} of wss)`;
}

/** The section's durable chain of our three services, on a fresh data directory `data-<name>` under `work`. */
export function startSectionChain(options: SectionOptions, name: string, env: Record<string, string>): Promise<Suite> {
  const dataDir = join(options.work, `data-${name}`);
  mkdirSync(dataDir);
  return Suite.start({ store: 'file', certDir: options.certDir, ca: options.ca, dataDir, logLevel: 'warn', env });
}

/** What a section's body registers as it goes: clean-ups (run last first) and children whose stderr explains a failure. */
export class SectionScope {
  private readonly cleanups: (() => unknown)[] = [];
  private readonly children: TsChild[] = [];

  /** Runs `cleanup` when the section ends, whether it failed or not. */
  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  /** A child process of the section: stopped at the end, its last stderr lines quoted on failure. */
  child(child: TsChild, signal?: NodeJS.Signals): TsChild {
    this.children.push(child);
    this.defer(() => child.stop(signal));
    return child;
  }

  failure(err: unknown): string {
    const stderr = this.children.flatMap((child) => child.stderr.slice(-10).map((text) => `${child.name}: ${text}`));
    return [(err as Error).message, ...stderr].join('\n');
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) await cleanup();
  }
}

/**
 * Runs one section: a throw becomes its one error (reported on `progress` as `[name] FAILED`, the
 * run goes on with the next section), and everything the body deferred is cleaned up either way.
 */
export async function runSection(
  section: {
    readonly name: string;
    readonly progress: (text: string) => void;
    /** More of the results file's record when the section fails (what it found before). */
    readonly failureJson?: Record<string, unknown>;
  },
  body: (scope: SectionScope) => Promise<SectionReport>,
): Promise<ModuleReport> {
  const scope = new SectionScope();
  try {
    return { targets: [], ...(await body(scope)) };
  } catch (err) {
    const error = scope.failure(err);
    section.progress(`[${section.name}] FAILED: ${error}`);
    return { rows: [], targets: [], json: { errors: [error], ...section.failureJson }, errors: [error] };
  } finally {
    await scope.close();
  }
}
