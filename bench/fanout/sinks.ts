/** The driver's side of the sink processes (sink.ts): start them, spread sockets, add up counts. */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../process.js';
import { within } from '@pubsub/testkit';
import type { CountResult, OpenResult, SinkCommand, SinkReply, SinkTarget, System } from './types.js';

const SINK_ENTRY = fileURLToPath(new URL('sink.ts', import.meta.url));
/** Bound on a command other than `open` (whose bound is given per call). */
const COMMAND_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const START_TIMEOUT_MS = 30_000;

/**
 * Sinks still running: should the driver exit without stopping them (an uncaught error,
 * process.exit in a signal handler), they are killed on the way out instead of holding
 * thousands of sockets (the test kit's TsProcess does the same for the servers).
 */
const live = new Set<ChildProcess>();
process.on('exit', () => live.forEach((child) => child.kill('SIGKILL')));

class SinkProcess {
  readonly child: ChildProcess;
  readonly stderr: string[] = [];
  readonly #pending = new Map<number, { resolve: (reply: SinkReply) => void }>();
  #nextId = 1;
  /** Resolves with the sink's first message, sent once it listens for commands. */
  readonly ready: Promise<SinkReply>;

  constructor(index: number) {
    this.child = fork(SINK_ENTRY, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    live.add(this.child);
    this.ready = new Promise((resolve) => this.#pending.set(0, { resolve }));
    void this.ready.then(() => this.#pending.delete(0));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
    // A send to a sink that just died is reported here; its requests fail through 'exit'.
    this.child.on('error', (err) => this.stderr.push(err.message));
    this.child.on('message', (reply: SinkReply) => this.#pending.get(reply.id)?.resolve(reply));
    this.child.once('exit', (code, signal) => {
      live.delete(this.child);
      const error = `sink ${index} exited (${code ?? signal}): ${this.stderr.slice(-10).join('\n')}`;
      for (const [id, waiter] of this.#pending) waiter.resolve({ id, ok: false, error });
    });
  }

  async request(command: SinkCommand, timeoutMs = COMMAND_TIMEOUT_MS): Promise<SinkReply> {
    const id = this.#nextId++;
    if (!this.child.connected) return { id, ok: false, error: `sink is gone: ${this.stderr.slice(-10).join('\n')}` };
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<SinkReply>((resolve) => {
      this.#pending.set(id, { resolve });
      timer = setTimeout(() => resolve({ id, ok: false, error: `sink: no answer to ${command.op}` }), timeoutMs);
    });
    this.child.send({ ...command, id });
    try {
      return await reply;
    } finally {
      clearTimeout(timer);
      this.#pending.delete(id);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}

/** Sum of the sinks' connection results: rate from the earliest start to the latest subscription. */
export interface OpenSummary {
  readonly opened: number;
  readonly failed: number;
  readonly errors: string[];
  readonly ms: number;
  readonly perSec: number;
}

/** A few sink processes that share the sockets of each system between them. */
export class SinkGroup {
  readonly #sinks: SinkProcess[];

  private constructor(sinks: SinkProcess[]) {
    this.#sinks = sinks;
  }

  /** Forks the sink processes and waits until each listens for commands. */
  static async start(processes: number): Promise<SinkGroup> {
    const group = new SinkGroup(Array.from({ length: processes }, (_v, index) => new SinkProcess(index)));
    const ready = Promise.all(group.#sinks.map((sink) => sink.ready));
    const replies = await within(ready, START_TIMEOUT_MS, () => 'sink processes').catch(async (err: unknown) => {
      await group.stop();
      throw err;
    });
    const failed = replies.find((reply) => !reply.ok);
    if (failed !== undefined && !failed.ok) {
      await group.stop();
      throw new Error(failed.error);
    }
    return group;
  }

  get pids(): number[] {
    return this.#sinks.map((sink) => sink.child.pid ?? -1);
  }

  /** Opens `count` sockets to `target`, split evenly, `inFlight` handshakes at a time in all. */
  async open(
    target: SinkTarget,
    options: { count: number; inFlight: number; timeoutMs: number },
  ): Promise<OpenSummary> {
    const n = this.#sinks.length;
    const share = (k: number) => Math.floor(options.count / n) + (k < options.count % n ? 1 : 0);
    const inFlight = Math.max(1, Math.round(options.inFlight / n));
    const results = await this.#all((k) => ({ op: 'open', target, count: share(k), inFlight }), options.timeoutMs);
    const opened = results as OpenResult[];
    const startedAt = Math.min(...opened.map((r) => r.startedAt));
    const finishedAt = Math.max(...opened.map((r) => r.finishedAt));
    const total = opened.reduce((sum, r) => sum + r.opened, 0);
    return {
      opened: total,
      failed: opened.reduce((sum, r) => sum + r.failed, 0),
      errors: [...new Set(opened.flatMap((r) => r.errors))],
      ms: finishedAt - startedAt,
      perSec: (total * 1000) / (finishedAt - startedAt),
    };
  }

  /** Resets the counts of `system`'s sockets: each should now get `messages`. */
  async expect(system: System, messages: number): Promise<void> {
    await this.#all(() => ({ op: 'expect', system, messages }));
  }

  /** The counts of `system`'s sockets, added up over the sinks. */
  async count(system: System): Promise<CountResult> {
    const results = (await this.#all(() => ({ op: 'count', system }))) as CountResult[];
    const sum = (pick: (r: CountResult) => number) => results.reduce((total, r) => total + pick(r), 0);
    const closed: Record<string, number> = {};
    for (const r of results) for (const [code, n] of Object.entries(r.closed)) closed[code] = (closed[code] ?? 0) + n;
    const stamped = results.filter((r) => r.firstAt > 0);
    return {
      sockets: sum((r) => r.sockets),
      exact: sum((r) => r.exact),
      short: sum((r) => r.short),
      over: sum((r) => r.over),
      messages: sum((r) => r.messages),
      bytes: sum((r) => r.bytes),
      reads: sum((r) => r.reads),
      other: sum((r) => r.other),
      closed,
      firstAt: stamped.length === 0 ? 0 : Math.min(...stamped.map((r) => r.firstAt)),
      lastAt: Math.max(0, ...results.map((r) => r.lastAt)),
      rss: sum((r) => r.rss),
    };
  }

  /** Closes every socket of every system (the servers see them go at once). */
  async closeSockets(): Promise<void> {
    await this.#all(() => ({ op: 'close' }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#sinks.map((sink) => sink.stop()));
  }

  async #all(
    command: (k: number) => SinkCommand,
    timeoutMs?: number,
  ): Promise<(OpenResult | CountResult | undefined)[]> {
    const replies = await Promise.all(this.#sinks.map((sink, k) => sink.request(command(k), timeoutMs)));
    const failed = replies.find((reply) => !reply.ok);
    if (failed !== undefined && !failed.ok) throw new Error(failed.error);
    return replies.map((reply) => (reply.ok ? reply.result : undefined));
  }
}
