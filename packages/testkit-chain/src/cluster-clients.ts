import { DEV_AUTH, type HistoryRecorder } from '@pubsub/testkit';
import { WebSocket } from 'ws';
import { recordDelivery, resumeCommand, type Frame } from './frames.js';

/**
 * Clients of a cluster as a careful application writes them: each knows several nodes, moves on
 * to the next when its socket drops, and picks up where it was — a publishing client resends
 * what was never acknowledged, by id; a subscribing client resumes every topic from the last seq
 * it got. Both record what they see in a history for the checker.
 */

/** How long a client waits before dialing again after a failed dial (pacing, not synchronisation). */
const REDIAL_MS = 100;

/** A client's nodes, dialled in this order, and the CA their certificates are checked against. */
interface Nodes {
  readonly urls: readonly string[];
  readonly ca: string;
}

/** What either client is given: its nodes' `/publish` or `/subscribe` URLs, its topics, where it records. */
interface ClientOptions extends Nodes {
  readonly name: string;
  readonly topics: readonly string[];
  readonly history: HistoryRecorder;
}

/** What a client does with the sockets its dialler opens. */
interface SocketHandlers {
  /** A new socket is open: the first, or the next node's after a drop. */
  readonly open: (ws: WebSocket) => void;
  readonly message: (data: Buffer) => void;
}

/**
 * Keeps one socket open to one of several nodes: when it closes, the next node round the list is
 * dialled, at once after an open socket, after REDIAL_MS after a failed dial.
 */
class NodeDialler {
  readonly #nodes: Nodes;
  readonly #handlers: SocketHandlers;
  #node = 0;
  #ws: WebSocket | undefined;
  #stopped = false;
  /** Close codes of its open sockets, in order. */
  readonly closes: number[] = [];

  constructor(nodes: Nodes, handlers: SocketHandlers) {
    this.#nodes = nodes;
    this.#handlers = handlers;
    this.#dial();
  }

  /** The open socket, if any. */
  get ws(): WebSocket | undefined {
    return this.#ws;
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
    const { urls, ca } = this.#nodes;
    const ws = new WebSocket(urls[this.#node] as string, { ca, auth: DEV_AUTH });
    ws.on('error', () => undefined);
    ws.once('open', () => {
      this.#ws = ws;
      this.#handlers.open(ws);
    });
    ws.on('message', this.#handlers.message);
    ws.once('close', (code) => {
      const wasOpen = this.#ws === ws;
      if (wasOpen) {
        this.#ws = undefined;
        this.closes.push(code);
      }
      if (this.#stopped) return;
      this.#node = (this.#node + 1) % urls.length;
      setTimeout(() => this.#dial(), wasOpen ? 0 : REDIAL_MS);
    });
  }
}

export interface PublishingClientOptions extends ClientOptions {
  /** It sends one message (`<name>-0`, `<name>-1`, …) per this many ms, a steady load. */
  readonly intervalMs: number;
  /** Most messages sent and not answered at once; a tick with that many waiting sends nothing. */
  readonly window: number;
  /** Called on every ack (the test's clock for its fault schedule). */
  readonly onAck: () => void;
}

/** A publishing client: a steady stream of messages, resent by id after any drop. */
export class PublishingClient {
  readonly #options: PublishingClientOptions;
  /** Sent and not acknowledged, in the order first sent. */
  readonly #unacked = new Map<string, string>();
  readonly #ticker: NodeJS.Timeout;
  readonly #link: NodeDialler;
  #next = 0;
  #draining: (() => void) | undefined;
  /** Messages sent again on a new socket. */
  resent = 0;
  acked = 0;

  constructor(options: PublishingClientOptions) {
    this.#options = options;
    this.#ticker = setInterval(() => this.#tick(), options.intervalMs);
    this.#link = new NodeDialler(options, {
      // Everything unacknowledged goes again, in order, before anything new.
      open: (ws) => {
        for (const [id, topic] of this.#unacked) {
          this.resent++;
          this.#send(ws, id, topic);
        }
      },
      message: (data) => this.#onReply(JSON.parse(data.toString()) as Frame),
    });
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
    this.#link.stop();
  }

  #send(ws: WebSocket, id: string, topic: string): void {
    this.#options.history.publishInvoked({ publisher: this.#options.name, topic, id, body: id });
    ws.send(JSON.stringify({ topic, content: id, id }));
  }

  /** One new message, unless the window is full or no node is connected. */
  #tick(): void {
    const { ws } = this.#link;
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
      const { ws } = this.#link;
      if (ws !== undefined && this.#unacked.has(id)) this.#send(ws, id, topic);
    }, REDIAL_MS);
  }
}

export interface SubscribingClientOptions extends ClientOptions {
  /** Called on every delivery. */
  readonly onDelivery: () => void;
}

/** A subscribing client that outlives its sockets: it resumes every topic on the next node. */
export class SubscribingClient {
  readonly #options: SubscribingClientOptions;
  readonly #lastSeq = new Map<string, number>();
  readonly #link: NodeDialler;
  #epoch: string | undefined;
  #subscribedOnce = false;
  /** `subscribed` replies on the current socket. */
  #confirmations = 0;
  readonly #ready: Promise<void>;
  #markReady: () => void = () => undefined;
  /** Distinct ids delivered. */
  readonly ids = new Set<string>();
  /** Resume replies (`subscribed` with `recovered`) and the node each came from. */
  readonly resumes: { node: number; topic: string; recovered: boolean; replayed: number }[] = [];
  /** Frames that were neither a delivery nor a subscription reply. */
  readonly unexpected: string[] = [];

  constructor(options: SubscribingClientOptions) {
    this.#options = options;
    this.#ready = new Promise((resolveReady) => (this.#markReady = resolveReady));
    this.#link = new NodeDialler(options, {
      open: (ws) => this.#subscribe(ws),
      message: (data) => this.#onFrame(data),
    });
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
    return this.#link.node;
  }

  /** Close codes of its sockets, in order. */
  get closes(): readonly number[] {
    return this.#link.closes;
  }

  stop(): void {
    this.#link.stop();
  }

  /** The first socket subscribes; every later one resumes each topic from the last seq it got. */
  #subscribe(ws: WebSocket): void {
    this.#confirmations = 0;
    for (const topic of this.#options.topics) {
      if (!this.#subscribedOnce) ws.send(`sub ${topic}`);
      else ws.send(resumeCommand(topic, this.#lastSeq.get(topic) ?? 0, this.#epoch));
    }
  }

  #onFrame(data: Buffer): void {
    const { topics, history, name } = this.#options;
    const frame = JSON.parse(data.toString()) as Frame;
    if (frame.type === 'message') {
      recordDelivery(history, name, frame);
      const { topic = '', id = '', seq } = frame;
      if (seq !== undefined) this.#lastSeq.set(topic, Math.max(seq, this.#lastSeq.get(topic) ?? 0));
      this.#epoch = frame.epoch ?? this.#epoch;
      this.ids.add(id);
      this.#options.onDelivery();
    } else if (frame.type === 'subscribed') {
      if (!this.#subscribedOnce) {
        // Subscribed from here to the end: every resume after this is meant to fill the gaps.
        history.subscribed({ subscriber: name, topic: frame.topic ?? '' });
        if (++this.#confirmations === topics.length) {
          this.#subscribedOnce = true;
          this.#markReady();
        }
      } else {
        this.resumes.push({
          node: this.#link.node,
          topic: frame.topic ?? '',
          recovered: frame.recovered === true,
          replayed: frame.replayed ?? 0,
        });
      }
    } else if (frame.type !== 'waiting') {
      this.unexpected.push(data.toString());
    }
  }
}
