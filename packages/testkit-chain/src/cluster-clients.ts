import { DEV_AUTH, type HistoryRecorder } from '@pubsub/testkit';
import { WebSocket } from 'ws';
import type { Frame } from './fault.js';

/**
 * Clients of a cluster as a careful application writes them: each knows several nodes, moves on
 * to the next when its socket drops, and picks up where it was — a publishing client resends
 * what was never acknowledged, by id; a subscribing client resumes every topic from the last seq
 * it got. Both record what they see in a history for the checker.
 */

/** How long a client waits before dialing again after a failed dial (pacing, not synchronisation). */
const REDIAL_MS = 100;

/** The node after `index`, round the list. */
const nextOf = (urls: readonly string[], index: number) => (index + 1) % urls.length;

export interface PublishingClientOptions {
  readonly name: string;
  /** Its publisher nodes' `/publish` URLs; it starts on the first. */
  readonly urls: readonly string[];
  readonly ca: string;
  readonly topics: readonly string[];
  /** It sends one message (`<name>-0`, `<name>-1`, …) per this many ms, a steady load. */
  readonly intervalMs: number;
  /** Most messages sent and not answered at once; a tick with that many waiting sends nothing. */
  readonly window: number;
  readonly history: HistoryRecorder;
  /** Called on every ack (the test's clock for its fault schedule). */
  readonly onAck: () => void;
}

/** A publishing client: a steady stream of messages, resent by id after any drop. */
export class PublishingClient {
  readonly #options: PublishingClientOptions;
  /** Sent and not acknowledged, in the order first sent. */
  readonly #unacked = new Map<string, string>();
  readonly #ticker: NodeJS.Timeout;
  #next = 0;
  #node = 0;
  #ws: WebSocket | undefined;
  #stopped = false;
  #draining: (() => void) | undefined;
  /** Close codes of its sockets, in order. */
  readonly closes: number[] = [];
  /** Messages sent again on a new socket. */
  resent = 0;
  acked = 0;

  constructor(options: PublishingClientOptions) {
    this.#options = options;
    this.#ticker = setInterval(() => this.#tick(), options.intervalMs);
    this.#dial();
  }

  /** Messages it has started to publish. */
  get published(): number {
    return this.#next;
  }

  /** Sends nothing new; resolves once everything sent has been acknowledged. */
  drain(): Promise<void> {
    clearInterval(this.#ticker);
    return new Promise((resolveDrained) => {
      this.#draining = resolveDrained;
      if (this.#unacked.size === 0) resolveDrained();
    });
  }

  stop(): void {
    clearInterval(this.#ticker);
    this.#stopped = true;
    this.#ws?.close();
  }

  #dial(): void {
    if (this.#stopped) return;
    const { urls, ca } = this.#options;
    const ws = new WebSocket(urls[this.#node] as string, { ca, auth: DEV_AUTH });
    ws.on('error', () => undefined);
    ws.once('open', () => {
      this.#ws = ws;
      // Everything unacknowledged goes again, in order, before anything new.
      for (const [id, topic] of this.#unacked) {
        this.resent++;
        this.#send(ws, id, topic);
      }
    });
    ws.on('message', (data: Buffer) => this.#onReply(JSON.parse(data.toString()) as Frame));
    ws.once('close', (code) => {
      const wasOpen = this.#ws === ws;
      if (wasOpen) {
        this.#ws = undefined;
        this.closes.push(code);
      }
      if (this.#stopped) return;
      this.#node = nextOf(urls, this.#node);
      setTimeout(() => this.#dial(), wasOpen ? 0 : REDIAL_MS);
    });
  }

  #send(ws: WebSocket, id: string, topic: string): void {
    this.#options.history.publishInvoked({ publisher: this.#options.name, topic, id, body: id });
    ws.send(JSON.stringify({ topic, content: id, id }));
  }

  /** One new message, unless the window is full or no node is connected. */
  #tick(): void {
    const ws = this.#ws;
    const { window, topics, name } = this.#options;
    if (ws === undefined || this.#unacked.size >= window) return;
    const id = `${name}-${this.#next}`;
    const topic = topics[this.#next % topics.length] as string;
    this.#next++;
    this.#unacked.set(id, topic);
    this.#send(ws, id, topic);
  }

  #onReply(reply: Frame): void {
    const { history, name } = this.#options;
    const id = reply.id ?? '';
    if (!this.#unacked.has(id)) return;
    if (reply.type === 'ack') {
      history.publishOk({ publisher: name, id });
      this.#unacked.delete(id);
      this.acked++;
      this.#options.onAck();
      if (this.#unacked.size === 0) this.#draining?.();
      return;
    }
    // Refused (the node has no msgqueue and a full buffer, say): it is sent again after a pause.
    history.publishFailed({ publisher: name, id });
    const topic = this.#unacked.get(id) as string;
    setTimeout(() => {
      const ws = this.#ws;
      if (ws !== undefined && this.#unacked.has(id)) this.#send(ws, id, topic);
    }, REDIAL_MS);
  }
}

export interface SubscribingClientOptions {
  readonly name: string;
  /** Its subscriber nodes' `/subscribe` URLs; it starts on the first. */
  readonly urls: readonly string[];
  readonly ca: string;
  readonly topics: readonly string[];
  readonly history: HistoryRecorder;
  /** Called on every delivery. */
  readonly onDelivery: () => void;
}

/** A subscribing client that outlives its sockets: it resumes every topic on the next node. */
export class SubscribingClient {
  readonly #options: SubscribingClientOptions;
  readonly #lastSeq = new Map<string, number>();
  #epoch: string | undefined;
  #node = 0;
  #ws: WebSocket | undefined;
  #stopped = false;
  #subscribedOnce = false;
  readonly #ready: Promise<void>;
  #markReady: () => void = () => undefined;
  /** Distinct ids delivered. */
  readonly ids = new Set<string>();
  readonly closes: number[] = [];
  /** Resume replies (`subscribed` with `recovered`) and the node each came from. */
  readonly resumes: { node: number; topic: string; recovered: boolean; replayed: number }[] = [];
  /** Frames that were neither a delivery nor a subscription reply. */
  readonly unexpected: string[] = [];

  constructor(options: SubscribingClientOptions) {
    this.#options = options;
    this.#ready = new Promise((resolveReady) => (this.#markReady = resolveReady));
    this.#dial();
  }

  /** Resolves once the first socket's subscriptions are confirmed. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  get name(): string {
    return this.#options.name;
  }

  /** Which of its URLs it is on now. */
  get node(): number {
    return this.#node;
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.close();
  }

  #dial(): void {
    if (this.#stopped) return;
    const { urls, ca, topics, history, name } = this.#options;
    const ws = new WebSocket(urls[this.#node] as string, { ca, auth: DEV_AUTH });
    ws.on('error', () => undefined);
    let confirmations = 0;
    ws.once('open', () => {
      this.#ws = ws;
      for (const topic of topics) {
        if (!this.#subscribedOnce) ws.send(`sub ${topic}`);
        else ws.send(`sub ${topic} from ${this.#lastSeq.get(topic) ?? 0}${this.#epoch ? ` ${this.#epoch}` : ''}`);
      }
    });
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as Frame & { recovered?: boolean; replayed?: number };
      if (frame.type === 'message') {
        const { topic = '', id = '', content = '', seq } = frame;
        history.delivered({ subscriber: name, topic, id, body: content, ...(seq === undefined ? {} : { seq }) });
        if (seq !== undefined) this.#lastSeq.set(topic, Math.max(seq, this.#lastSeq.get(topic) ?? 0));
        this.#epoch = frame.epoch ?? this.#epoch;
        this.ids.add(id);
        this.#options.onDelivery();
      } else if (frame.type === 'subscribed') {
        if (!this.#subscribedOnce) {
          // Subscribed from here to the end: every resume after this is meant to fill the gaps.
          history.subscribed({ subscriber: name, topic: frame.topic ?? '' });
          if (++confirmations === topics.length) {
            this.#subscribedOnce = true;
            this.#markReady();
          }
        } else {
          this.resumes.push({
            node: this.#node,
            topic: frame.topic ?? '',
            recovered: frame.recovered === true,
            replayed: frame.replayed ?? 0,
          });
        }
      } else if (frame.type !== 'waiting') {
        this.unexpected.push(data.toString());
      }
    });
    ws.once('close', (code) => {
      const wasOpen = this.#ws === ws;
      if (wasOpen) {
        this.#ws = undefined;
        this.closes.push(code);
      }
      if (this.#stopped) return;
      this.#node = nextOf(urls, this.#node);
      setTimeout(() => this.#dial(), wasOpen ? 0 : REDIAL_MS);
    });
  }
}
