/** What the driver (run.ts) and the load generator child (load.ts) exchange. */

export type ScenarioSpec =
  | {
      readonly kind: 'throughput';
      /** Unique within one msgqueue run (ids are deduplicated for minutes): no `-` in it. */
      readonly label: string;
      /** Publisher connections on /publish; messages are split evenly between them. */
      readonly publishers: number;
      /** Sockets subscribed to the topic: one in the load generator, the others in sink processes (sink.ts). */
      readonly subscribers: number;
      /** Messages in all. */
      readonly count: number;
      /** Most unacknowledged publishes per connection. */
      readonly window: number;
    }
  | {
      readonly kind: 'latency';
      readonly label: string;
      /** Messages per second on one publisher connection, on a fixed timetable. */
      readonly rate: number;
      readonly durationMs: number;
    };

export interface LoadConfig {
  readonly scenario: ScenarioSpec;
  readonly publishUrl: string;
  readonly subscribeUrl: string;
  /** PEM file the clients trust (the generated self-signed certificate). */
  readonly caFile: string;
  /** `user:password` for both client endpoints. */
  readonly auth: string;
  /** Messages sent (split between the publishers) and seen delivered before measuring. */
  readonly warmup: number;
  /** Most unacknowledged warm-up publishes per connection. */
  readonly warmupWindow: number;
  /** Bound on the whole scenario after warm-up; what is missing then counts as lost. */
  readonly timeoutMs: number;
}

/** Delivery bookkeeping: each acked message must arrive exactly once, in its publisher's order. */
export interface Integrity {
  readonly sent: number;
  readonly acked: number;
  /** Publishes answered with an error frame, by code. */
  readonly refused: Record<string, number>;
  /** Sent, never answered before the deadline. */
  readonly unanswered: number;
  readonly delivered: number;
  /** Acked but never delivered. */
  readonly lost: number;
  /** Extra copies delivered. */
  readonly duplicated: number;
  /** Deliveries whose number is not above the previous one of the same publisher. */
  readonly reordered: number;
  /** Delivered without having been acked (e.g. refused or unanswered, yet stored). */
  readonly deliveredUnacked: number;
  readonly timedOut: boolean;
}

/** Latency percentiles in milliseconds, from an HDR histogram of µs (3 significant digits). */
export interface LatencySummary {
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
  /** The histogram itself (`encodeIntoCompressedBase64`, values in µs), to merge runs later. */
  readonly hdr: string;
}

export interface ThroughputResult {
  readonly kind: 'throughput';
  readonly spec: ScenarioSpec;
  /** Acked publishes per second, first send to last ack. */
  readonly ackedPerSec: number;
  /** Deliveries per second at the subscribing client, first send to last delivery. */
  readonly deliveredPerSec: number;
  readonly firstSendToLastAckMs: number;
  readonly firstSendToLastDeliveryMs: number;
  /** monotonicMs(), comparable with the sinks' times. */
  readonly firstSendAt: number;
  readonly lastDeliveryAt: number;
  readonly integrity: Integrity;
  /** CPU the load generator used during the measurement, in ms. */
  readonly loadCpuMs: number;
}

export interface LatencyResult {
  readonly kind: 'latency';
  readonly spec: ScenarioSpec;
  /** Rate actually achieved by the timetable (sent / duration). */
  readonly sentPerSec: number;
  /** Intended send time → delivery at the subscribing client (coordinated-omission corrected). */
  readonly delivery: LatencySummary;
  /** Actual send time → delivery (excludes the generator's own timer lag). */
  readonly deliveryFromActualSend: LatencySummary;
  /** Intended send time → ack to the publisher (the durable commit on the way). */
  readonly ack: LatencySummary;
  /** How late the generator actually sent, vs the timetable. */
  readonly sendLag: LatencySummary;
  readonly integrity: Integrity;
  readonly loadCpuMs: number;
}

export type LoadResult = ThroughputResult | LatencyResult;

export interface SinkConfig {
  readonly subscribeUrl: string;
  readonly caFile: string;
  readonly auth: string;
  readonly sockets: number;
  /** Label of the measured batch (warm-up messages carry another one and are not counted). */
  readonly label: string;
  readonly publishers: number;
  /** Messages of the batch; a socket is complete when it has this many. */
  readonly expected: number;
  /** Bound on the sink's life after it is ready. */
  readonly timeoutMs: number;
}

/** What a sink process saw on its sockets, of the measured batch only. */
export interface SinkResult {
  /** Frames received, per socket. */
  readonly counts: number[];
  /** Deliveries whose number is not above the previous one of the same publisher on the same socket (duplicates too). */
  readonly reordered: number;
  /** Sockets the server closed before the end, by close code. */
  readonly closed: Record<string, number>;
  /** monotonicMs() of the first and last delivery on any socket. */
  readonly firstDeliveryAt: number;
  readonly lastDeliveryAt: number;
  /** Some socket did not get the whole batch before the sink had to report. */
  readonly timedOut: boolean;
  /** The sink's own CPU time (user + system) since it started, ms, when it reported. */
  readonly cpuMs: number;
}

export const TOPIC = 'bench';
/** 100 characters of text: the `content` JSON value of every message is this string (102 bytes of JSON). */
export const CONTENT = JSON.stringify(
  '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789abcdefghijklmnopqrstuvwxyz.',
);

/** Line prefixes on stderr of the preloads that answer SIGWINCH (fsync-counter.ts, fanout/memory-probe.ts). */
export const FSYNC_PREFIX = 'BENCH_FSYNC ';
export const MEMORY_PREFIX = 'FANOUT_MEMORY ';

/** Counters kept by fsync-counter.ts inside the msgqueue process. */
export interface FsyncCounters {
  /** The log's group commits (one O_DSYNC writev each), the ms they took in all, and their bytes. */
  commits: number;
  commitMs: number;
  commitBytes: number;
  /** FileHandle.sync() calls (meta.json, groups.json, directories). */
  sync: number;
  syncMs: number;
}

/** process.memoryUsage() after a full GC, as the memory probe (fanout/memory-probe.ts) reports it. */
export interface MemorySnapshot {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /**
   * Bytes committed to V8's young generation. A full GC does not shrink it, so a process that
   * allocated a lot at start-up keeps it large until allocation slows; when it shrinks between two
   * snapshots, the RSS difference understates what was added by that much.
   */
  readonly newSpace: number;
  /** Whether a GC ran first (the process has --expose-gc). */
  readonly gc: boolean;
}
