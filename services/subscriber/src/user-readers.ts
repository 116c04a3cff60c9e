import type { Reader } from './reader.js';

interface UserEntry {
  readonly readers: Set<Reader>;
  /** Topics and patterns its readers are subscribed to, summed over them. */
  subscriptions: number;
}

/**
 * Each user's open readers and the subscriptions they hold between them, counted as they change:
 * the per-user limit is checked on every `sub`, and a user with thousands of sockets (one
 * service account for a fleet of devices) must not make each check visit all of them.
 */
export class UserReaders {
  readonly #users = new Map<string, UserEntry>();
  #readers = 0;

  /** A reader of `user` opened; it holds no subscription yet. */
  join(user: string, reader: Reader): void {
    let entry = this.#users.get(user);
    if (entry === undefined) this.#users.set(user, (entry = { readers: new Set(), subscriptions: 0 }));
    if (entry.readers.has(reader)) return;
    entry.readers.add(reader);
    this.#readers++;
  }

  /** A reader of `user` subscribed to one more subject (+1) or left one (-1). */
  count(user: string, change: 1 | -1): void {
    const entry = this.#users.get(user);
    if (entry !== undefined) entry.subscriptions += change;
  }

  /** The reader closed, giving back the `subscriptions` it still held. */
  leave(user: string, reader: Reader, subscriptions: number): void {
    const entry = this.#users.get(user);
    if (entry === undefined || !entry.readers.delete(reader)) return;
    this.#readers--;
    entry.subscriptions -= subscriptions;
    if (entry.readers.size === 0) this.#users.delete(user);
  }

  /** Subscriptions held by all of `user`'s open readers. */
  subscriptions(user: string): number {
    return this.#users.get(user)?.subscriptions ?? 0;
  }

  /** Open readers, all users together. */
  get readerCount(): number {
    return this.#readers;
  }
}
