/** What the fan-out driver, its sink processes and its servers share. */
import { DEV_AUTH } from '@pubsub/testkit';
import type { TsChild } from '../process.js';
import type { WindowResult } from '../window.js';

/** The one topic (and Socket.IO room) every sink subscribes to. */
export const TOPIC = 't';
/** The development user's Basic Auth of every endpoint; the Socket.IO peer checks the same. */
export const AUTHORIZATION = `Basic ${Buffer.from(DEV_AUTH).toString('base64')}`;

export type System = 'suite' | 'socket.io';

/** Where a sink's sockets go and how they talk once upgraded. */
export interface SinkTarget {
  readonly system: System;
  readonly port: number;
  /** PEM the sink trusts: it verifies the server's certificate as real clients do. */
  readonly ca: string;
}

export type SinkCommand =
  | { readonly op: 'open'; readonly target: SinkTarget; readonly count: number; readonly inFlight: number }
  | { readonly op: 'expect'; readonly system: System; readonly messages: number }
  | { readonly op: 'count'; readonly system: System }
  | { readonly op: 'close' };

/** A command with the id its reply carries. */
export type SinkRequest = SinkCommand & { readonly id: number };

export interface OpenResult {
  readonly opened: number;
  readonly failed: number;
  /** Distinct failure messages, the first few. */
  readonly errors: string[];
  /** monotonicMs() when the first connection started and when the last one was subscribed. */
  readonly startedAt: number;
  readonly finishedAt: number;
}

/** One sink's view of one system's sockets since the last `expect`. */
export interface CountResult {
  readonly sockets: number;
  /** Sockets that have exactly the expected number of messages, fewer, more. */
  readonly exact: number;
  readonly short: number;
  readonly over: number;
  readonly messages: number;
  /** Bytes received (frame headers included). */
  readonly bytes: number;
  /** Decrypted chunks read: messages ÷ reads shows how much the server packs into one write. */
  readonly reads: number;
  /** Text frames that were neither messages nor handshake steps (error frames, say). */
  readonly other: number;
  /** Sockets that closed after subscribing, by close code (or "none" without a close frame). */
  readonly closed: Record<string, number>;
  /** monotonicMs() of the first and last chunk that held a message; 0 when none did. */
  readonly firstAt: number;
  readonly lastAt: number;
  /** The sink process's own RSS, bytes. */
  readonly rss: number;
}

export type SinkReply =
  | { readonly id: number; readonly ok: true; readonly result?: OpenResult | CountResult }
  | { readonly id: number; readonly ok: false; readonly error: string };

export interface Publisher {
  /** Publishes `count` messages with ids `<label>-<n>`; resolves once every one is answered. */
  publish(count: number, label: string): Promise<WindowResult>;
  close(): Promise<void>;
}

/** What the fan-out scenario needs from a system under test, whichever it is. */
export interface ServerUnderTest {
  readonly system: System;
  /** The process that does the fan-out: its memory and open-files limit are what count. */
  readonly fanout: TsChild;
  /** Every server process of the system (ours: msgqueue, publisher, subscriber): CPU per delivery counts them all. */
  readonly processes: readonly TsChild[];
  /** Where the sinks connect. */
  readonly sinkPort: number;
  /** Facts worth keeping with the results (settings, ports). */
  readonly settings: Record<string, unknown>;
  openPublisher(): Promise<Publisher>;
  /** Log lines at warn or above and stderr lines that no normal run prints. */
  unexpectedLines(): string[];
  stop(): Promise<void>;
}
