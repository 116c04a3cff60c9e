import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CeilingChain } from './ceiling/chain.js';
import { summarizeProfiles } from './cpuprofile.js';
import type { ChainRecord, ScenarioRecord } from './report.js';
import { Suite } from './services.js';
import type { System, SystemDefinition } from './systems.js';

/**
 * Messages one chain takes before the driver replaces it with a fresh one, so every scenario
 * starts from a comparable state: a retained history (kept in memory, up to
 * MSGQUEUE_RETENTION_BYTES) and a log that grow without bound would skew later runs.
 */
export const CHAIN_MESSAGE_BUDGET = 200_000;

export interface ChainContext {
  readonly work: string;
  readonly certDir: string;
  readonly ca: string;
  readonly logLevel: string;
  /** When set, each msgqueue writes a CPU profile under `<profileRoot>/<system>-<generation>`. */
  readonly profileRoot: string | undefined;
}

/** One system's side of the benchmark: its current chain, replaced when its budget is spent. */
export class SystemRunner {
  readonly definition: SystemDefinition;
  readonly scenarios: ScenarioRecord[] = [];
  readonly errors: string[] = [];
  readonly chains: ChainRecord[] = [];
  readonly #context: ChainContext;
  #system: System | undefined;
  #generation = 0;
  #taken = 0;
  #profileDir: string | undefined;

  constructor(definition: SystemDefinition, context: ChainContext) {
    this.definition = definition;
    this.#context = context;
  }

  get id(): string {
    return this.definition.id;
  }

  /** A running chain with room for `messages` more; undefined if it cannot start. */
  async chainFor(messages: number, say: (text: string) => void): Promise<System | undefined> {
    if (this.#system !== undefined && this.#taken + messages <= CHAIN_MESSAGE_BUDGET) {
      this.#taken += messages;
      return this.#system;
    }
    await this.stop();
    const generation = ++this.#generation;
    say(`[${this.id}] starting chain #${generation}…`);
    try {
      this.#system = await this.#start(generation);
      this.#taken = messages;
      return this.#system;
    } catch (err) {
      this.errors.push(`start of chain #${generation}: ${(err as Error).message}`);
      say(`[${this.id}] chain #${generation} FAILED to start: ${(err as Error).message}`);
      return undefined;
    }
  }

  async #start(generation: number): Promise<System> {
    const { definition } = this;
    const context = this.#context;
    if (definition.kind === 'ceiling') return CeilingChain.start(context.certDir);
    const dataDir = join(context.work, `data-${this.id}-${generation}`);
    mkdirSync(dataDir);
    const root = context.profileRoot;
    this.#profileDir = root === undefined ? undefined : join(root, `${this.id}-${generation}`);
    if (this.#profileDir !== undefined) mkdirSync(this.#profileDir, { recursive: true });
    return Suite.start({
      store: definition.store,
      certDir: context.certDir,
      ca: context.ca,
      dataDir,
      logLevel: context.logLevel,
      env: definition.env,
      ...(this.#profileDir === undefined ? {} : { profileDir: this.#profileDir }),
    });
  }

  /** Stops the current chain, if any, and records how it ended. */
  async stop(): Promise<void> {
    const system = this.#system;
    if (system === undefined) return;
    this.#system = undefined;
    // Before stopping: shutdown itself logs warnings (upstream closed) that mean nothing here.
    const unexpectedLogLines = system.unexpectedLogLines();
    const exitCodes = await system.stop();
    const profiles = this.#profileDir === undefined ? undefined : await summarizeProfiles(this.#profileDir);
    this.chains.push({
      generation: this.#generation,
      messages: this.#taken,
      exitCodes,
      unexpectedLogLines,
      ...(profiles === undefined ? {} : { profiles }),
    });
  }
}
