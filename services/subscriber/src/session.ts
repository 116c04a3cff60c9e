import {
  encodeError,
  encodeSubscribed,
  encodeUnsubscribed,
  encodeWaiting,
  parseCommand,
  ProtocolError,
  type Command,
} from '@pubsub/protocol';
import { noteRefusal, type ConnectionContext } from '@pubsub/service';
import type { CatchUp } from './catch-up.js';
import type { LiveStream } from './delivery.js';
import type { LogSource } from './log-source.js';
import { Subscription, type Reader } from './reader.js';
import { subscribeGuard } from './subscribe-guard.js';
import type { TopicRegistry } from './topics.js';
import type { UserReaders } from './user-readers.js';

export interface SessionDeps {
  topics: TopicRegistry<Reader>;
  live: LiveStream;
  catchUp: CatchUp;
  source: LogSource;
  /** Topics and patterns one reader may be subscribed to at once. */
  maxSubscriptions: number;
  /** The same over all of one user's readers. */
  maxUserSubscriptions: number;
  userReaders: UserReaders;
}

/**
 * The subscription commands of one reader, whatever its transport: `sub`/`unsub` change its
 * subscriptions and are answered in order through its sink, so once `subscribed` arrives every
 * later message on the topic will. A resume (`sub <topic> from <seq>`) is a subscription whose
 * position lies in the log: CatchUp fills it from there and it then goes live.
 */
export class SubscriptionSession {
  readonly #reader: Reader;
  readonly #context: ConnectionContext;
  readonly #deps: SessionDeps;
  readonly #check: (command: Command) => void;
  #from: { epoch: string; offset: number } | undefined;

  constructor(reader: Reader, context: ConnectionContext, deps: SessionDeps) {
    this.#reader = reader;
    this.#context = context;
    this.#deps = deps;
    deps.userReaders.join(context.user, reader);
    this.#check = subscribeGuard(reader, context, deps);
  }

  /** Handles one command; the caller runs them one after another, so replies keep their order. */
  async handle(text: string): Promise<void> {
    const sink = this.#reader.sink;
    try {
      const command = parseCommand(text);
      this.#check(command);
      if (command.op === 'sub' && command.resume !== undefined) await this.#resume(command);
      else if (command.op === 'sub') {
        this.#subscribe(command.topic, this.#livePosition());
        sink.reply(encodeSubscribed(command.topic, command.ref));
      } else {
        this.#unsubscribe(command.topic);
        sink.reply(encodeUnsubscribed(command.topic, command.ref));
      }
      this.#context.log.debug({ op: command.op, topic: command.topic }, 'command');
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      noteRefusal(this.#context, err.code, { ref: err.ref });
      sink.reply(encodeError(err, err.ref));
    }
  }

  /**
   * Subscribes to all of `subjects` at once, live or from a position in the log (a stream's
   * resume point); returns the refusal instead when one of them may not be subscribed. Nothing is
   * written until `start`, so the transport can answer first.
   */
  open(subjects: readonly string[], from?: { epoch: string; offset: number }): ProtocolError | undefined {
    const { maxSubscriptions } = this.#deps;
    if (new Set(subjects).size > maxSubscriptions) {
      const message = `at most ${maxSubscriptions} topics per stream (SUBSCRIBER_MAX_SUBSCRIPTIONS)`;
      return new ProtocolError('TOO_MANY_SUBSCRIPTIONS', message);
    }
    try {
      for (const topic of subjects) this.#check({ op: 'sub', topic, ref: undefined, resume: undefined });
    } catch (err) {
      if (err instanceof ProtocolError) return err;
      throw err;
    }
    this.#from = from;
    for (const subject of subjects) this.#subscribe(subject, from?.offset ?? this.#deps.live.routedThrough);
    return undefined;
  }

  /** Starts what `open` set up: a stream from a position is filled from the log, then goes live. */
  start(): void {
    if (this.#from === undefined) return;
    this.#deps.catchUp.leaveLive(this.#reader, this.#from);
    this.#deps.catchUp.fill(this.#reader);
  }

  /** The transport is gone: nothing of the reader stays behind. */
  close(): void {
    for (const subscription of this.#reader.subscriptions.values()) subscription.active = false;
    this.#deps.userReaders.leave(this.#context.user, this.#reader, this.#reader.subscriptions.size);
    this.#reader.subscriptions.clear();
    this.#deps.topics.remove(this.#reader);
    this.#deps.catchUp.forget(this.#reader);
  }

  /**
   * `sub <topic> from <seq> [<epoch>]`: the reply says whether everything after `seq` is still
   * retained (`recovered`) and how many messages that is; then they follow, then live ones.
   * While the msgqueue's history cannot be read the resume waits (the client is told it waits):
   * a gap is never reported that does not exist. Later commands are answered after the replay.
   */
  async #resume(command: Command): Promise<void> {
    const { topic, ref } = command;
    const from = command.resume?.seq ?? 0;
    const reason = 'the msgqueue history is unreachable; this resume goes on once it is back';
    const onWaiting = () => this.#reader.sink.reply(encodeWaiting(topic, ref, reason));
    let position = await this.#deps.source.position(topic, from, onWaiting);
    const sameEpoch = command.resume?.epoch === undefined || command.resume.epoch === position.epoch;
    // Another history (the msgqueue's data was reset): the client's seq means nothing in it, so
    // it gets everything retained and is told it may have missed messages.
    if (!sameEpoch) position = await this.#deps.source.position(topic, 0, onWaiting);
    if (!this.#reader.sink.open) return;
    if (position.floor !== undefined) this.#deps.live.seed({ floor: position.floor, epoch: position.epoch });
    const recovery = {
      from,
      recovered: sameEpoch && position.first <= from + 1,
      epoch: position.epoch,
      replayed: position.count,
    };
    this.#reader.sink.reply(encodeSubscribed(topic, ref, recovery));
    const { catchUp, live } = this.#deps;
    // Everything the reader has so far stays as it is; the resumed topic starts in the log.
    catchUp.leaveLive(this.#reader, { offset: live.routedThrough, epoch: live.epoch ?? position.epoch });
    this.#unsubscribe(topic);
    this.#subscribe(topic, position.offset).replayThrough = position.through;
    catchUp.fill(this.#reader);
    // The replay follows its reply unbroken: the next command is answered once it is written.
    await this.#reader.untilLive();
  }

  /**
   * Where a plain `sub` starts: what is routed live from now. A reader filled from the log knows
   * a later point than the live stream may (a resume counted up to the log's head), and a new
   * subscription must not reach back before it.
   */
  #livePosition(): number {
    let position = this.#deps.live.routedThrough;
    if (this.#reader.live) return position;
    for (const subscription of this.#reader.subscriptions.values())
      position = Math.max(position, subscription.after, subscription.replayThrough);
    return position;
  }

  #subscribe(subject: string, after: number): Subscription {
    let subscription = this.#reader.subscriptions.get(subject);
    if (subscription !== undefined) return subscription;
    subscription = new Subscription(subject, after);
    this.#reader.subscriptions.set(subject, subscription);
    this.#deps.topics.subscribe(this.#reader, subject);
    this.#deps.userReaders.count(this.#context.user, 1);
    return subscription;
  }

  #unsubscribe(subject: string): void {
    const subscription = this.#reader.subscriptions.get(subject);
    if (subscription === undefined) return;
    subscription.active = false;
    this.#reader.subscriptions.delete(subject);
    this.#deps.topics.unsubscribe(this.#reader, subject);
    this.#deps.userReaders.count(this.#context.user, -1);
  }
}
