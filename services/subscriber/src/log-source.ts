import {
  decodeLogPageMeta,
  decodeQueueStats,
  decodeTopicPosition,
  unpackPositioned,
  type LogPageMeta,
  type QueueStats,
  type TopicPositionReply,
} from '@pubsub/protocol';
import type { HopTls, QueueHop } from '@pubsub/service';
import { Agent, request } from 'node:https';

/** Where the msgqueue is, and the TLS of its hops: its CA, and the client certificate if it wants one. */
export interface LogSourceOptions extends HopTls {
  readonly hop: QueueHop;
  /** The subscriber's consumer group, whose floor `/position` reports. */
  readonly group: string;
  /** Longest wait between two tries while the msgqueue cannot be read. */
  readonly backoffMaxMs: number;
}

/** A page of the log: where it sits, and the wanted messages in it with their offsets. */
export interface LogPage extends LogPageMeta {
  readonly offsets: number[];
  readonly frames: Buffer[];
}

export interface PageQuery {
  readonly after: number;
  /** The page ends below this offset. */
  readonly before?: number;
  /** Topics and patterns wanted; an empty list asks for every topic. */
  readonly subjects: readonly string[];
  readonly limit: number;
  readonly bytes: number;
}

export class LogSourceClosed extends Error {
  override name = 'LogSourceClosed';
}

/** Requests to the msgqueue's read side at once, at most: a reconnect storm must not flood it. */
const MAX_IN_FLIGHT = 4;
const REQUEST_TIMEOUT_MS = 10_000;
/** Subject lists longer than this go unfiltered (the reader filters), to keep the URL small. */
const MAX_SUBJECT_CHARS = 4_096;

/**
 * The subscriber's reads of the msgqueue (`GET /log`, `GET /position`; `GET /stats` for the
 * console). Log reads retry, with backoff, until they succeed or the source is closed: a
 * position must mean the same whether the msgqueue is reachable right now or not, so a reader
 * waits rather than being told of a gap that does not exist. `onWaiting` is told once per read
 * that has to wait.
 */
export class LogSource {
  readonly #options: LogSourceOptions;
  readonly #agent: Agent;
  #inFlight = 0;
  #node = 0;
  readonly #queued: (() => void)[] = [];
  #closed = false;
  readonly #wakers = new Set<() => void>();

  constructor(options: LogSourceOptions) {
    this.#options = options;
    this.#agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  }

  position(topic: string, afterSeq: number, onWaiting?: () => void): Promise<TopicPositionReply> {
    return this.#read(
      { path: '/position', params: { topic, after: String(afterSeq), group: this.#options.group } },
      (body) => decodeTopicPosition(body.toString()),
      onWaiting,
    );
  }

  page(query: PageQuery, onWaiting?: () => void): Promise<LogPage> {
    const params: Record<string, string | string[]> = {
      after: String(query.after),
      limit: String(query.limit),
      bytes: String(query.bytes),
    };
    if (query.before !== undefined) params.before = String(query.before);
    const chars = query.subjects.reduce((sum, subject) => sum + subject.length, 0);
    if (chars <= MAX_SUBJECT_CHARS) params.subject = [...query.subjects];
    return this.#read(
      { path: '/log', params },
      (body, headers) => {
        const meta = decodeLogPageMeta(headers);
        const batch = body.length === 0 ? { offsets: [], frames: [] } : unpackPositioned(body);
        return meta === undefined || batch === undefined ? undefined : { ...meta, ...batch };
      },
      onWaiting,
    );
  }

  /**
   * `GET /stats`: the msgqueue's depth and groups. One try, unlike the log reads: the console
   * would rather show the msgqueue as unreachable now than wait for it.
   */
  async stats(): Promise<QueueStats> {
    const url = this.#url('/stats', {});
    const { body } = await this.#limited(() => this.#get(url));
    const stats = decodeQueueStats(body.toString());
    if (stats === undefined) throw new Error(`unexpected answer from ${url.pathname}`);
    return stats;
  }

  /** Wakes reads waiting to retry: the msgqueue hop is back, so they need not wait out their backoff. */
  retryNow(): void {
    for (const wake of this.#wakers) wake();
  }

  close(): void {
    this.#closed = true;
    this.retryNow();
    this.#agent.destroy();
  }

  /** The msgqueue node asked now: of a cluster's nodes, the one that last answered, or the next after a failure. */
  #url(path: string, params: Record<string, string | string[]>): URL {
    const { urls } = this.#options.hop;
    const url = new URL(urls[this.#node % urls.length] as string);
    url.protocol = 'https:';
    url.pathname = path;
    url.search = '';
    for (const [name, value] of Object.entries(params)) {
      for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, one);
    }
    return url;
  }

  async #read<T>(
    { path, params }: { path: string; params: Record<string, string | string[]> },
    decode: (body: Buffer, headers: NodeJS.Dict<string | string[]>) => T | undefined,
    onWaiting?: () => void,
  ): Promise<T> {
    let delay = 50;
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new LogSourceClosed('the log source is closed');
      const node = this.#node;
      const url = this.#url(path, params);
      try {
        const { body, headers } = await this.#limited(() => this.#get(url));
        const value = decode(body, headers);
        if (value === undefined) throw new Error(`unexpected answer from ${url.pathname}`);
        return value;
      } catch (err) {
        if (this.#closed) throw new LogSourceClosed('the log source is closed', { cause: err });
        if (attempt === 0) onWaiting?.();
        // Positions mean the same on every node of a cluster (one shared store), so any can
        // answer; reads that failed on the same node move on once, not once each.
        if (this.#node === node) this.#node++;
        await this.#backoff(delay);
        delay = Math.min(delay * 2, this.#options.backoffMaxMs);
      }
    }
  }

  #backoff(ms: number): Promise<void> {
    return new Promise((resolveWait) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolveWait();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  async #limited<T>(run: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolveTurn) => this.#queued.push(resolveTurn));
    this.#inFlight++;
    try {
      return await run();
    } finally {
      this.#inFlight--;
      this.#queued.shift()?.();
    }
  }

  #get(url: URL): Promise<{ body: Buffer; headers: NodeJS.Dict<string | string[]> }> {
    const { hop, ca, cert, key } = this.#options;
    return new Promise((resolveGet, reject) => {
      const req = request(
        url,
        {
          agent: this.#agent,
          ca,
          ...(cert !== undefined && key !== undefined && { cert, key }),
          auth: `${hop.user}:${hop.password}`,
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            if (res.statusCode === 200) resolveGet({ body, headers: res.headers });
            else reject(new Error(`${url.pathname} answered ${res.statusCode}: ${body.subarray(0, 200).toString()}`));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${url.pathname} timed out`)));
      req.on('error', reject);
      req.end();
    });
  }
}
