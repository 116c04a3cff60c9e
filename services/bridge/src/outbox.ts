import type { Logger } from '@pubsub/log';
import type pg from 'pg';
import type { OutboxConfig } from './config.js';
import type { Lane } from './lane.js';
import type { BridgeCounters } from './metrics.js';
import { publishFrame } from './publish-frame.js';

interface OutboxRow {
  /** The row's key, as text (a bigint does not fit a number). */
  readonly key: string;
  readonly topic: string;
  readonly payload: string;
}

/**
 * The no-loss PostgreSQL mode: rows of the outbox table are read in key order, a batch at a
 * time, and a batch is deleted only once the msgqueue holds every row of it durably. A row the
 * ingress refuses as bad input gets its `dead_reason` set and stays in the table, out of the way.
 * A crash after the msgqueue's ack and before the delete sends the rows again with the same ids
 * (`<table>:<key>`), which the msgqueue recognises within its dedupe window.
 */
export class Outbox {
  readonly #config: OutboxConfig;
  readonly #lane: Lane;
  readonly #counters: BridgeCounters;
  readonly #log: Logger;
  readonly #sql: { select: string; remove: string; kill: string; lag: string };
  #running: Promise<void> | undefined;
  #again = false;
  #paused = false;
  #lag = { rows: 0, oldestSeconds: 0 };
  #countingLag = false;

  constructor(options: { config: OutboxConfig; lane: Lane; counters: BridgeCounters; logger: Logger }) {
    this.#config = options.config;
    this.#lane = options.lane;
    this.#counters = options.counters;
    this.#log = options.logger;
    // Checked against a strict identifier pattern at config load; unquoted, so it names the
    // table as the user's own unquoted DDL does (folded to lower case).
    const { table } = options.config;
    this.#sql = {
      select: `SELECT id::text AS key, topic, payload::text AS payload FROM ${table} WHERE dead_reason IS NULL ORDER BY id LIMIT $1`,
      remove: `DELETE FROM ${table} WHERE id = ANY($1::bigint[])`,
      kill: `UPDATE ${table} SET dead_reason = $2 WHERE id = $1::bigint`,
      lag: `SELECT count(*)::int AS rows, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest FROM ${table} WHERE dead_reason IS NULL`,
    };
  }

  /** The backlog as last counted. */
  get lag(): { rows: number; oldestSeconds: number } {
    return this.#lag;
  }

  /** Reads the table until it has nothing waiting (again, if a read is running now). */
  wake(client: pg.Client): void {
    if (this.#paused) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain(client).finally(() => {
      this.#running = undefined;
    });
  }

  pause(): void {
    this.#paused = true;
  }

  /** Resolves once the batch being forwarded now, if any, is deleted (or left for the next run). */
  async settled(): Promise<void> {
    await this.#running;
  }

  async #drain(client: pg.Client): Promise<void> {
    try {
      do {
        this.#again = false;
        const { rows } = await client.query<OutboxRow>(this.#sql.select, [this.#config.batch]);
        const full = rows.length === this.#config.batch;
        if (rows.length > 0 && !(await this.#forward(client, rows))) return;
        this.#again ||= full;
      } while (this.#again && !this.#paused);
    } catch (err) {
      // The connection's own error handler redials; the rows stay and are read after it.
      this.#log.warn({ err }, 'reading the outbox table failed');
    }
  }

  /** Forwards one batch and deletes what was stored; false when the bridge is stopping. */
  async #forward(client: pg.Client, rows: readonly OutboxRow[]): Promise<boolean> {
    const prefix = this.#config.table;
    const results = await Promise.all(
      rows.map((row) => this.#lane.publish(publishFrame(row.topic, `${prefix}:${row.key}`, row.payload))),
    );
    const stored: string[] = [];
    let stopped = false;
    for (const [index, result] of results.entries()) {
      const row = rows[index] as OutboxRow;
      if (result.kind === 'stored') {
        stored.push(row.key);
        this.#counters[result.duplicate ? 'duplicates' : 'stored'].inc({ source: 'postgres' });
      } else if (result.kind === 'refused') {
        const reason = `${result.code}: ${result.reason}`;
        await client.query(this.#sql.kill, [row.key, reason]);
        this.#counters.deadLetters.inc({ source: 'postgres', code: result.code });
        this.#log.warn(
          { table: this.#config.table, key: row.key, topic: row.topic, code: result.code, reason: result.reason },
          'outbox row refused; kept with its dead_reason',
        );
      } else stopped = true;
    }
    if (stored.length > 0) await client.query(this.#sql.remove, [stored]);
    return !stopped;
  }

  /**
   * Counts the backlog again, on its own timer: a batch waiting for the msgqueue holds up the
   * reading, not the counting, so the lag shows while the msgqueue is away too.
   */
  async readLag(client: pg.Client): Promise<void> {
    if (this.#countingLag) return;
    this.#countingLag = true;
    try {
      const { rows } = await client.query<{ rows: number; oldest: number }>(this.#sql.lag);
      const [row] = rows;
      this.#lag = { rows: row?.rows ?? 0, oldestSeconds: row?.oldest ?? 0 };
    } catch (err) {
      this.#log.debug({ err }, 'counting the outbox backlog failed');
    } finally {
      this.#countingLag = false;
    }
  }
}
