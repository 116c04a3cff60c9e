import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeProfiles } from './cpuprofile.js';
import type { ChainRecord, ScenarioRecord } from './report.js';
import { Suite, type Store } from './services.js';

/**
 * Messages one msgqueue takes before the driver replaces its chain with a fresh one, so every
 * scenario starts from a comparable state: a retained history (kept in memory, up to
 * MSGQUEUE_RETENTION_BYTES) and a log that grow without bound would skew later runs.
 */
export const CHAIN_MESSAGE_BUDGET = 200_000;

export interface ChainContext {
  readonly work: string;
  readonly certDir: string;
  readonly ca: string;
  readonly logLevel: string;
  /** When set, each msgqueue writes a CPU profile under `<profileRoot>/<store>-<generation>`. */
  readonly profileRoot: string | undefined;
}

/** One store's side of the benchmark: its current chain of services, replaced when its budget is spent. */
export class StoreRunner {
  readonly store: Store;
  readonly scenarios: ScenarioRecord[] = [];
  readonly errors: string[] = [];
  readonly chains: ChainRecord[] = [];
  readonly #context: ChainContext;
  #suite: Suite | undefined;
  #generation = 0;
  #taken = 0;
  #profileDir: string | undefined;

  constructor(store: Store, context: ChainContext) {
    this.store = store;
    this.#context = context;
  }

  get suite(): Suite | undefined {
    return this.#suite;
  }

  /** A running chain with room for `messages` more; undefined if it cannot start. */
  async chainFor(messages: number, say: (text: string) => void): Promise<Suite | undefined> {
    if (this.#suite !== undefined && this.#taken + messages <= CHAIN_MESSAGE_BUDGET) {
      this.#taken += messages;
      return this.#suite;
    }
    await this.stop();
    const generation = ++this.#generation;
    const dataDir = join(this.#context.work, `data-${this.store}-${generation}`);
    mkdirSync(dataDir);
    const root = this.#context.profileRoot;
    this.#profileDir = root === undefined ? undefined : join(root, `${this.store}-${generation}`);
    if (this.#profileDir !== undefined) mkdirSync(this.#profileDir, { recursive: true });
    say(
      `[${this.store}] starting chain #${generation}: msgqueue (MSGQUEUE_STORE=${this.store}), publisher, subscriber…`,
    );
    try {
      this.#suite = await Suite.start({
        store: this.store,
        certDir: this.#context.certDir,
        ca: this.#context.ca,
        dataDir,
        logLevel: this.#context.logLevel,
        ...(this.#profileDir === undefined ? {} : { profileDir: this.#profileDir }),
      });
      this.#taken = messages;
      return this.#suite;
    } catch (err) {
      this.errors.push(`start of chain #${generation}: ${(err as Error).message}`);
      say(`[${this.store}] chain #${generation} FAILED to start: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Stops the current chain, if any, and records how it ended. */
  async stop(): Promise<void> {
    const suite = this.#suite;
    if (suite === undefined) return;
    this.#suite = undefined;
    // Before stopping: shutdown itself logs warnings (upstream closed) that mean nothing here.
    const unexpectedLogLines = suite.unexpectedLogLines();
    const exitCodes = await suite.stop();
    const profiles = this.#profileDir === undefined ? undefined : await summarizeProfiles(this.#profileDir);
    this.chains.push({
      generation: this.#generation,
      messages: this.#taken,
      exitCodes,
      unexpectedLogLines,
      ...(profiles === undefined ? {} : { profiles }),
    });
  }

  /** Kills every service process at once (Ctrl-C). */
  kill(): void {
    for (const child of Object.values(this.#suite?.children ?? {})) child.child.kill('SIGKILL');
  }
}
