/** What the burst driver (bench/burst/run.ts) and its children (backlog.ts, steady.ts) exchange. */

/** Where the children connect; every URL is on 127.0.0.1. */
export interface Endpoints {
  readonly publishUrl: string;
  readonly subscribeUrl: string;
  /** PEM file the clients trust (the generated self-signed certificate). */
  readonly caFile: string;
  /** `user:password` for both client endpoints. */
  readonly auth: string;
}

export interface BacklogConfig extends Endpoints {
  /** Unique per chain (ids are deduplicated for minutes): no `-` in it. */
  readonly label: string;
  readonly topic: string;
  /** Messages of the burst. */
  readonly count: number;
  /**
   * Messages of the warm-up, sent while the stalled socket is paused too, so the catch-up path is
   * compiled and its buffers allocated before the RSS baseline is read. Must be well above what
   * the kernel's socket buffers absorb (several MB on loopback), or the reader never falls behind.
   */
  readonly warmup: number;
  /** Most unacknowledged publishes at once. */
  readonly window: number;
  /** False for the control: the "stalled" reader reads throughout, nobody falls behind. */
  readonly pause: boolean;
  /** Bound on the burst, and separately on the catch-up; what is missing then counts as lost. */
  readonly timeoutMs: number;
}

export interface SteadyConfig extends Endpoints {
  readonly label: string;
  readonly topic: string;
  /** Messages per second on one publisher connection, on a fixed timetable. */
  readonly rate: number;
  /** The window ends on SIGTERM, or after this long at most. */
  readonly maxMs: number;
}

/** One socket's batch against the messages acked: exactly once each, in send order. */
export interface SocketIntegrity {
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly reordered: number;
  /** Close code if the server closed the socket before the end (4100: cut off as slow). */
  readonly closedWith: number | undefined;
}

/** Printed after the burst: the publisher is done and the normal reader has everything (or timed out). */
export interface BurstResult {
  readonly sent: number;
  readonly acked: number;
  readonly refused: number;
  /** monotonicMs() of the first send and of the normal reader's last delivery. */
  readonly firstSendAt: number;
  readonly normalLastAt: number;
  /** Deliveries to the normal reader ÷ (first send → its last delivery). */
  readonly normalPerSec: number;
  readonly ackedPerSec: number;
  readonly normal: SocketIntegrity;
  /** What the paused socket had received (from its kernel buffer onwards) before it resumed: 0. */
  readonly stalledBeforeResume: number;
  readonly timedOut: boolean;
}

/** Printed after the resumed socket has the whole burst (or timed out). */
export interface CatchUpResult {
  readonly stalled: SocketIntegrity;
  /** monotonicMs() of the resume and of the stalled socket's last delivery. */
  readonly resumedAt: number;
  readonly lastAt: number;
  /** Its deliveries ÷ (resume → last delivery). */
  readonly perSec: number;
  readonly timedOut: boolean;
  /** The normal socket, checked again at the end (late duplicates, a late close). */
  readonly normal: SocketIntegrity;
}

export interface SteadyResult {
  readonly sent: number;
  readonly windowMs: number;
  /** Publish (intended send) → delivery, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly samples: number;
  readonly reader: SocketIntegrity;
}

/**
 * The `content` of every message: ~1 KB in all with topic and id (the brief's message size), no
 * `"id":"` inside (the readers find the id in the frame text).
 */
export const CONTENT = JSON.stringify('x'.repeat(940));
