/**
 * Replies the client is waiting for, by the id it sent. A reply without an id settles the only
 * outstanding request when there is exactly one (the server cannot always echo an id, e.g. when
 * the id itself is invalid); otherwise it is not ours to claim.
 */
export class ReplyBook<R> {
  readonly #waiting = new Map<string, (reply: R | undefined) => void>();
  #drained: (() => void)[] = [];

  get size(): number {
    return this.#waiting.size;
  }

  /** Resolves with the reply, or with undefined if the connection ends first. */
  expect(id: string): Promise<R | undefined> {
    return new Promise((resolveReply) => this.#waiting.set(id, resolveReply));
  }

  /** Returns false when the reply matches nothing outstanding. */
  settle(id: string | undefined, reply: R): boolean {
    let key = id;
    if (key === undefined && this.#waiting.size === 1) key = this.#waiting.keys().next().value;
    const resolveReply = key === undefined ? undefined : this.#waiting.get(key);
    if (key === undefined || resolveReply === undefined) return false;
    this.#waiting.delete(key);
    resolveReply(reply);
    this.#checkDrained();
    return true;
  }

  /** Ends every wait with undefined: the connection is gone. */
  abandon(): void {
    for (const resolveReply of this.#waiting.values()) resolveReply(undefined);
    this.#waiting.clear();
    this.#checkDrained();
  }

  /** Resolves once nothing is outstanding. */
  drained(): Promise<void> {
    if (this.#waiting.size === 0) return Promise.resolve();
    return new Promise((resolveDrained) => this.#drained.push(resolveDrained));
  }

  #checkDrained(): void {
    if (this.#waiting.size > 0) return;
    const waiters = this.#drained;
    this.#drained = [];
    for (const resolveDrained of waiters) resolveDrained();
  }
}
