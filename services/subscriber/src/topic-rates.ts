/** Seconds the rates are averaged over. */
export const RATE_WINDOW_SECONDS = 10;
/** Topics counted per second at most: beyond, a flood of one-off topics costs no more memory. */
const MAX_TOPICS_PER_SECOND = 10_000;

/**
 * Messages routed per topic over the last `RATE_WINDOW_SECONDS`, for `GET /api/stats`. Counting
 * is on the delivery hot path, so it costs a string comparison per message: a run of messages on
 * one topic (the usual hop batch) is added to the current second's map once, when the topic
 * changes or the batch ends (`flush`). Seconds roll over lazily, at a batch's end or a read.
 */
export class TopicRates {
  readonly #now: () => number;
  /** One map per second, newest last; the last is the current second. */
  readonly #seconds: Map<string, number>[] = [new Map<string, number>()];
  #second: number;
  readonly #startedAt: number;
  #runTopic: string | undefined;
  #run = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#startedAt = now();
    this.#second = Math.floor(this.#startedAt / 1000);
  }

  /** One message routed on `topic`. */
  note(topic: string): void {
    if (topic === this.#runTopic) {
      this.#run++;
      return;
    }
    this.#addRun();
    this.#runTopic = topic;
    this.#run = 1;
  }

  /**
   * Adds the pending run; delivery calls it once per hop batch. Only here (and on reading) is
   * the clock read: a batch that spans the turn of a second counts in the second it ends in.
   */
  flush(): void {
    this.#roll();
    this.#addRun();
  }

  #addRun(): void {
    if (this.#runTopic === undefined) return;
    const current = this.#seconds[this.#seconds.length - 1] as Map<string, number>;
    const count = current.get(this.#runTopic);
    if (count !== undefined) current.set(this.#runTopic, count + this.#run);
    else if (current.size < MAX_TOPICS_PER_SECOND) current.set(this.#runTopic, this.#run);
    this.#runTopic = undefined;
    this.#run = 0;
  }

  /** Messages per second of each topic routed within the window. */
  rates(): Map<string, number> {
    this.flush();
    const totals = new Map<string, number>();
    for (const second of this.#seconds) {
      for (const [topic, count] of second) totals.set(topic, (totals.get(topic) ?? 0) + count);
    }
    // The window's full seconds and the current one's part; a young service divides by the
    // time it has been counting (at least a second, so three messages are not a burst of 3,000/s).
    const now = this.#now();
    const covered = RATE_WINDOW_SECONDS - 1 + (now % 1000) / 1000;
    const elapsed = Math.max(1, Math.min(covered, (now - this.#startedAt) / 1000));
    for (const [topic, count] of totals) totals.set(topic, count / elapsed);
    return totals;
  }

  /** Starts a new second if one began, dropping the seconds that left the window. */
  #roll(): void {
    const second = Math.floor(this.#now() / 1000);
    if (second === this.#second) return;
    const passed = Math.min(second - this.#second, RATE_WINDOW_SECONDS);
    for (let i = 0; i < passed; i++) this.#seconds.push(new Map());
    this.#seconds.splice(0, Math.max(0, this.#seconds.length - RATE_WINDOW_SECONDS));
    this.#second = second;
  }
}
