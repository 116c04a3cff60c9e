import { z } from '@pubsub/config';
import type { Forwarder } from '@pubsub/ingress';
import type { Logger } from '@pubsub/log';
import { encodeDelivery, isPattern, validatePattern, type ErrorCode, type ProtocolError } from '@pubsub/protocol';
import type { Account, ConnectionContext, ServiceMetrics, Users } from '@pubsub/service';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Counter } from 'prom-client';
import type { WebhookConfig } from './config.js';
import { Reader } from './reader.js';
import { SubscriptionSession, type SessionDeps } from './session.js';
import { readStateFile, StateFile } from './state-file.js';
import type { WebhookPoster } from './webhook-post.js';
import { WebhookSink, type LogPosition, type Settled, type WebhookError, type WebhookMessage } from './webhook-sink.js';

export const WEBHOOKS_FILE = 'webhooks.json';

const validSubject = (subject: string) => {
  try {
    validatePattern(subject);
    return true;
  } catch {
    return false;
  }
};

const SavedWebhook = z.object({
  id: z.uuid(),
  user: z.string().min(1),
  subject: z.string().refine(validSubject, 'not a topic or pattern'),
  url: z.url({ protocol: /^https?$/ }),
  secret: z.string().min(16),
  createdAt: z.number().int(),
  /** Everything up to here was delivered or dead-lettered; null: not known yet (from the live stream). */
  position: z.object({ epoch: z.string().regex(/^[0-9a-f]{1,64}$/), offset: z.number().int().min(0) }).nullable(),
});
type SavedWebhook = z.infer<typeof SavedWebhook>;

const WebhooksFile = z.object({ version: z.literal(1), subscriptions: z.array(SavedWebhook) });
type WebhooksFile = z.infer<typeof WebhooksFile>;

/** What `GET /api/subscriptions` shows of one (docs/protocol.md#webhooks). */
export interface WebhookView {
  readonly id: string;
  readonly topic?: string;
  readonly pattern?: string;
  readonly url: string;
  readonly user: string;
  readonly createdAt: string;
  readonly deadLetterTopic: string;
  /** `live`: written as messages are routed; `behind`: filled from the log; `paused`: not delivering (see lastError). */
  readonly state: 'live' | 'behind' | 'paused';
  readonly position: LogPosition | null;
  /** Log offsets between its position and the live stream (every topic counts); null when unknown. */
  readonly lag: number | null;
  /** Messages taken from the stream and not yet delivered, the one in flight included. */
  readonly queued: number;
  /** The request number of the message in flight (1 for its first), 0 when none is. */
  readonly attempt: number;
  readonly nextAttemptAt: string | null;
  readonly lastError: { readonly at: string; readonly reason: string; readonly status: number | null } | null;
  /** Since this start of the service. */
  readonly delivered: number;
  readonly deadLettered: number;
}

interface Entry {
  readonly saved: SavedWebhook;
  sink: WebhookSink | undefined;
  session: SubscriptionSession | undefined;
  reader: Reader | undefined;
  /** Why it does not deliver (its user lost the right); undefined while it runs. */
  paused: WebhookError | undefined;
  delivered: number;
  deadLettered: number;
}

export interface WebhooksDeps {
  readonly config: WebhookConfig;
  readonly dataDir: string;
  readonly users: Users;
  readonly session: SessionDeps;
  readonly poster: WebhookPoster;
  /** The forwarder to `/pushmsg` for dead letters, made on first use. */
  readonly deadLetters: () => Forwarder;
  /** Whether the msgqueue hop is up (a new webhook needs to learn where the log stands). */
  readonly connected: () => boolean;
  readonly metrics: ServiceMetrics;
  readonly logger: Logger;
}

export type CreateResult =
  | { readonly ok: true; readonly view: WebhookView; readonly secret: string }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The webhook subscriptions of this service: each is a reader with a WebhookSink under the same
 * session as a wss client (rights, routing, catch-up), kept with its position in
 * `SUBSCRIBER_DATA_DIR/webhooks.json`. The position moves only when a message was delivered
 * (a 2xx) or stored as a dead letter, and is saved soon after (coalesced); after a crash a
 * subscription resumes from its saved position, so a message may be POSTed again (same id).
 */
export class Webhooks {
  readonly #deps: WebhooksDeps;
  readonly #entries = new Map<string, Entry>();
  readonly #file: StateFile<WebhooksFile>;
  readonly #outcomes: Counter<'outcome'>;
  #closed = false;

  private constructor(deps: WebhooksDeps, saved: readonly SavedWebhook[]) {
    this.#deps = deps;
    for (const each of saved) this.#entries.set(each.id, this.#entry(each));
    this.#file = new StateFile(join(deps.dataDir, WEBHOOKS_FILE), () => this.#snapshot());
    this.#outcomes = deps.metrics.counter({
      name: 'pubsub_subscriber_webhook_deliveries_total',
      help: 'Webhook requests and messages by outcome: delivered (2xx), failed (a request that will be retried or dead-lettered), dead_lettered, dropped (a dead letter that failed again)',
      labelNames: ['outcome'],
    });
    deps.metrics.gauge({
      name: 'pubsub_subscriber_webhook_subscriptions',
      help: 'Webhook subscriptions, paused ones included',
      read: () => this.#entries.size,
    });
    deps.metrics.gauge({
      name: 'pubsub_subscriber_webhook_queued',
      help: 'Messages held for webhooks and not yet delivered, summed over subscriptions',
      read: () => {
        let queued = 0;
        for (const entry of this.#entries.values()) queued += entry.sink?.queued ?? 0;
        return queued;
      },
    });
  }

  /** Reads the saved subscriptions; a file this version cannot read is a StateFileError (the start stops). */
  static async open(deps: WebhooksDeps): Promise<Webhooks> {
    const saved = await readStateFile(join(deps.dataDir, WEBHOOKS_FILE), WebhooksFile);
    return new Webhooks(deps, saved?.subscriptions ?? []);
  }

  /**
   * Starts delivery of the saved subscriptions, each from its position, once the live stream knows
   * where the consumer group stands (else a subscription could rejoin it before the messages
   * the group has acknowledged meanwhile, and miss them).
   */
  async start(): Promise<void> {
    const first = [...this.#entries.values()].find((entry) => entry.saved.position !== null);
    if (first !== undefined) {
      const position = await this.#deps.session.source.position(this.deadLetterTopic(first.saved.id), 0);
      if (position.floor !== undefined) this.#deps.session.live.seed({ floor: position.floor, epoch: position.epoch });
    }
    if (this.#closed) return;
    for (const entry of this.#entries.values()) this.#run(entry);
    this.#deps.logger.info({ subscriptions: this.#entries.size }, 'webhooks started');
  }

  deadLetterTopic(id: string): string {
    return `${this.#deps.config.deadLetterPrefix}${id}`;
  }

  countFor(user: string): number {
    let count = 0;
    for (const entry of this.#entries.values()) if (entry.saved.user === user) count++;
    return count;
  }

  /** Webhook subscriptions per subject, for `GET /api/topics`. */
  subjects(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const { saved } of this.#entries.values()) counts.set(saved.subject, (counts.get(saved.subject) ?? 0) + 1);
    return counts;
  }

  /** Creates a subscription for `context`'s user; the subject and URL are checked already (the target guard too). */
  async create(
    context: ConnectionContext,
    wanted: { subject: string; url: string; secret: string },
  ): Promise<CreateResult> {
    const { subject, url, secret } = wanted;
    if (!context.account.subscribe.covers(subject))
      return { ok: false, code: 'TOPIC_FORBIDDEN', message: `user "${context.user}" may not subscribe to ${subject}` };
    if (this.countFor(context.user) >= this.#deps.config.maxPerUser) {
      const message = `at most ${this.#deps.config.maxPerUser} webhook subscriptions per user (SUBSCRIBER_WEBHOOK_MAX_PER_USER); delete one first`;
      return { ok: false, code: 'TOO_MANY_WEBHOOKS', message };
    }
    const id = randomUUID();
    const { live, source } = this.#deps.session;
    let position: LogPosition;
    let from: LogPosition | undefined;
    if (live.epoch !== undefined) {
      // From now: what is routed from here on is its.
      position = { epoch: live.epoch, offset: live.routedThrough };
    } else {
      // Nothing routed yet: the log's head is "now", and what comes after it is filled from the log.
      if (!this.#deps.connected())
        return { ok: false, code: 'UNAVAILABLE', message: 'the msgqueue is unreachable; retry later' };
      const head = await source.position(this.deadLetterTopic(id), 0);
      if (head.floor !== undefined) live.seed({ floor: head.floor, epoch: head.epoch });
      position = { epoch: head.epoch, offset: head.through };
      from = position;
    }
    const saved: SavedWebhook = { id, user: context.user, subject, url, secret, createdAt: Date.now(), position };
    const entry = this.#entry(saved);
    this.#entries.set(id, entry);
    const refusal = this.#run(entry, from === undefined ? 'live' : 'position');
    if (refusal !== undefined) {
      this.#entries.delete(id);
      return { ok: false, code: refusal.code, message: refusal.message };
    }
    // Answered once it is on disk: a created subscription survives a crash right after.
    await this.#file.save();
    context.log.info({ subscription: id, subject, url }, 'webhook subscription created');
    return { ok: true, view: this.#view(entry), secret };
  }

  list(user: string): WebhookView[] {
    return [...this.#entries.values()].filter((entry) => entry.saved.user === user).map((entry) => this.#view(entry));
  }

  get(user: string, id: string): WebhookView | undefined {
    const entry = this.#entries.get(id);
    return entry === undefined || entry.saved.user !== user ? undefined : this.#view(entry);
  }

  /** False when the user has no such subscription. */
  async delete(user: string, id: string): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.saved.user !== user) return false;
    this.#stopEntry(entry);
    this.#entries.delete(id);
    await this.#file.save();
    this.#deps.logger.info({ subscription: id, user }, 'webhook subscription deleted');
    return true;
  }

  /** Stops every delivery (the requests in flight are abandoned: their messages come again after the start) and saves the positions. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#entries.values()) this.#stopEntry(entry);
    await this.#file.save().catch((err: unknown) => this.#deps.logger.error({ err }, 'cannot save webhooks.json'));
    await this.#file.flush();
  }

  #entry(saved: SavedWebhook): Entry {
    return {
      saved,
      sink: undefined,
      session: undefined,
      reader: undefined,
      paused: undefined,
      delivered: 0,
      deadLettered: 0,
    };
  }

  /** Starts delivery: from the saved position through the log, or (`live`, a new one) from the live stream. */
  #run(entry: Entry, start: 'live' | 'position' = 'position'): ProtocolError | undefined {
    const { saved } = entry;
    const log = this.#deps.logger.child({ subscription: saved.id });
    const account: Account | undefined = this.#deps.users.accounts.get(saved.user);
    if (account === undefined) {
      entry.paused = { at: Date.now(), reason: `its user "${saved.user}" is no longer configured`, status: undefined };
      log.warn({ user: saved.user }, 'webhook paused: its user is no longer configured');
      return undefined;
    }
    const sink = new WebhookSink(
      {
        id: saved.id,
        url: new URL(saved.url),
        secret: saved.secret,
        retry: {
          attempts: this.#deps.config.attempts,
          baseMs: this.#deps.config.backoffBaseMs,
          maxMs: this.#deps.config.backoffMaxMs,
        },
        deadLetterPrefix: this.#deps.config.deadLetterPrefix,
        post: (request) => this.#deps.poster.post(request),
        deadLetter: (message, failure) => this.#deadLetter(saved, message, failure),
        onSettled: (outcome, position) => this.#settled(entry, outcome, position),
        onFailure: () => this.#outcomes.inc({ outcome: 'failed' }),
        onClosed: (code) => this.#closedBelow(entry, code),
        logger: log,
      },
      saved.position ?? undefined,
    );
    const reader = new Reader(sink);
    const context: ConnectionContext = {
      connId: 0,
      user: saved.user,
      account,
      remoteAddress: undefined,
      url: new URL(saved.url),
      log,
      metrics: this.#deps.metrics,
    };
    const session = new SubscriptionSession(reader, context, this.#deps.session);
    const from = start === 'position' && saved.position !== null ? saved.position : undefined;
    const refusal = session.open([saved.subject], from);
    if (refusal !== undefined) {
      session.close();
      entry.paused = { at: Date.now(), reason: `${refusal.code}: ${refusal.message}`, status: undefined };
      log.warn({ code: refusal.code }, 'webhook paused: its user may no longer subscribe to it');
      return refusal;
    }
    Object.assign(entry, { sink, reader, session, paused: undefined });
    session.start();
    return undefined;
  }

  #stopEntry(entry: Entry): void {
    entry.sink?.stop();
    entry.session?.close();
    entry.session = undefined;
  }

  #settled(entry: Entry, outcome: Settled, position: LogPosition | undefined): void {
    this.#outcomes.inc({ outcome: outcome === 'dead-lettered' ? 'dead_lettered' : outcome });
    if (outcome === 'dead-lettered') entry.deadLettered++;
    else if (outcome === 'delivered') entry.delivered++;
    if (position !== undefined) entry.saved.position = position;
    this.#file.save().catch((err: unknown) => this.#deps.logger.error({ err }, 'cannot save webhooks.json'));
  }

  /** Catch-up failed under it: it starts again from its position, after a pause so a lasting fault does not spin. */
  #closedBelow(entry: Entry, code: string): void {
    entry.session?.close();
    entry.session = undefined;
    if (this.#closed || !this.#entries.has(entry.saved.id)) return;
    this.#deps.logger.error({ subscription: entry.saved.id, code }, 'webhook delivery stopped; restarting it');
    entry.paused = { at: Date.now(), reason: `delivery stopped (${code}); restarting`, status: undefined };
    setTimeout(() => {
      if (!this.#closed && this.#entries.get(entry.saved.id) === entry) this.#run(entry);
    }, this.#deps.config.backoffMaxMs).unref();
  }

  #deadLetter(
    saved: SavedWebhook,
    message: WebhookMessage,
    failure: { reason: string; status: number | undefined; attempts: number },
  ): Promise<void> {
    const record = {
      subscription: saved.id,
      url: saved.url,
      reason: failure.reason,
      status: failure.status ?? null,
      attempts: failure.attempts,
      failedAt: iso(Date.now()),
      topic: message.topic,
      id: message.id ?? null,
      seq: message.seq ?? null,
      epoch: message.epoch ?? null,
      offset: message.offset,
    };
    // The original delivery as it was POSTed, byte for byte.
    const content = `${JSON.stringify(record).slice(0, -1)},"message":${message.body.toString()}}`;
    // The same id on every try, so the msgqueue stores a retried dead letter once.
    const id = `dl:${message.epoch ?? ''}:${message.offset}:${saved.id}`;
    const frame = encodeDelivery({ topic: this.deadLetterTopic(saved.id), id, content, time: Date.now() });
    const timeoutMs = this.#deps.config.timeoutMs;
    return new Promise((resolveStored, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`msgqueue /pushmsg did not acknowledge within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const result = this.#deps.deadLetters().submit(frame, (outcome) => {
        clearTimeout(timer);
        if (outcome.ok) resolveStored();
        else reject(new Error(`msgqueue /pushmsg refused it: ${outcome.code}`));
      });
      if (result === 'unavailable') {
        clearTimeout(timer);
        reject(new Error('msgqueue /pushmsg is unreachable and its buffer is full'));
      }
    });
  }

  /**
   * What is saved: each subscription with its position. One that is live with nothing left to
   * deliver has had every message routed so far, so it is saved at the live stream's position:
   * a quiet subscription does not restart from far back.
   */
  #snapshot(): WebhooksFile {
    const { live } = this.#deps.session;
    const subscriptions = [...this.#entries.values()].map((entry) => {
      const { saved, sink, reader } = entry;
      const idle = sink !== undefined && sink.open && sink.queued === 0 && reader?.live === true;
      if (
        idle &&
        saved.position !== null &&
        saved.position.epoch === live.epoch &&
        live.routedThrough > saved.position.offset
      ) {
        saved.position = { epoch: saved.position.epoch, offset: live.routedThrough };
        sink.position = saved.position;
      }
      return saved;
    });
    return { version: 1, subscriptions };
  }

  #view(entry: Entry): WebhookView {
    const { saved, sink, reader } = entry;
    const { live } = this.#deps.session;
    const position = saved.position;
    const lag =
      position !== null && position.epoch === live.epoch ? Math.max(0, live.routedThrough - position.offset) : null;
    const error = entry.paused ?? sink?.lastError;
    return {
      id: saved.id,
      ...(isPattern(saved.subject) ? { pattern: saved.subject } : { topic: saved.subject }),
      url: saved.url,
      user: saved.user,
      createdAt: iso(saved.createdAt),
      deadLetterTopic: this.deadLetterTopic(saved.id),
      state: entry.paused !== undefined || sink === undefined ? 'paused' : reader?.live === false ? 'behind' : 'live',
      position,
      lag,
      queued: sink?.queued ?? 0,
      attempt: sink?.attempt ?? 0,
      nextAttemptAt: sink?.nextAttemptAt === undefined ? null : iso(sink.nextAttemptAt),
      lastError: error === undefined ? null : { at: iso(error.at), reason: error.reason, status: error.status ?? null },
      delivered: entry.delivered,
      deadLettered: entry.deadLettered,
    };
  }
}
