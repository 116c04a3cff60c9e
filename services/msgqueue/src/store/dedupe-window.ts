import Denque from 'denque';
import { FrameArena } from './frame-arena.js';
import { NumberRing } from './number-ring.js';

export interface DedupeWindowOptions {
  /** How long an id is remembered. */
  windowMs: number;
  /** Most ids remembered at once: under a sustained high rate the oldest go before the window ends. */
  maxIds: number;
}

// Columns of a remembered id's row.
const HASH = 0;
const SEQ = 1;
const CHUNK = 2;
const START = 3;
const LENGTH = 4;
const COLUMNS = 5;

const INITIAL_SLOTS = 1024;

/** FNV-1a over the UTF-16 code units: cheap, and collisions only cost a byte comparison. */
function hashOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * Message ids stored recently, and the seq each got, so a resend is answered with the first
 * seq instead of being stored twice. Every message carries an id, and up to a million are
 * remembered: as strings in a Map they were the msgqueue's largest cost (a third of its CPU,
 * most of it garbage collection). Here nothing is a heap object: the ids' bytes sit in an arena,
 * each id is a row of numbers, and the index is an open-addressing hash table in typed arrays.
 */
export class DedupeWindow {
  readonly #windowMs: number;
  readonly #maxIds: number;
  readonly #rows = new NumberRing(COLUMNS);
  readonly #bytes = new FrameArena();
  /** Serial of the oldest remembered id (row 0); serials count ids from the first ever remembered. */
  #firstSerial = 0;
  /**
   * Hash table, linear probing. Slot i is `#table[2i]`, the serial + 1 of its id (0 when empty),
   * and `#table[2i + 1]`, the id's hash: side by side, so a probe touches one cache line, not two.
   */
  #table = new Float64Array(2 * INITIAL_SLOTS);
  /** When each run of ids was stored, and the serial after its last id. */
  readonly #runs = new Denque<{ readonly time: number; end: number }>();

  constructor(options: DedupeWindowOptions) {
    this.#windowMs = options.windowMs;
    this.#maxIds = options.maxIds;
  }

  get size(): number {
    return this.#rows.length;
  }

  /** The seq an id got when it was stored within the window. */
  seqOf(id: string): number | undefined {
    const slot = this.#find(id, hashOf(id));
    if (slot < 0) return undefined;
    return this.#rows.get(this.#rowOfSlot(slot), SEQ);
  }

  /**
   * The seq `id` got if it was stored within the window; otherwise remembers it with `seq` and
   * returns undefined. One hash and one lookup for what `seqOf` and then `remember` would do with
   * two of each: it is on the append path of every message.
   */
  claim(id: string, seq: number, time: number): number | undefined {
    const hash = hashOf(id);
    const slot = this.#find(id, hash);
    if (slot >= 0) return this.#rows.get(this.#rowOfSlot(slot), SEQ);
    this.#insert(hash, this.#store(id, hash, seq));
    this.#noteStored(time);
    return undefined;
  }

  /** Forgets ids stored before `now` minus the window; call once per group of `remember`s. */
  expire(now: number): void {
    const oldestKept = now - this.#windowMs;
    for (let run = this.#runs.peekFront(); run !== undefined && run.time < oldestKept; run = this.#runs.peekFront()) {
      this.#forgetBefore(run.end);
      this.#runs.shift();
    }
  }

  /**
   * Remembers `id` with `seq`. The same id twice (read back from a log that stored it again after
   * forgetting it): the later one answers.
   */
  remember(id: string, seq: number, time: number): void {
    const hash = hashOf(id);
    const existing = this.#find(id, hash);
    const serial = this.#store(id, hash, seq);
    if (existing >= 0) this.#table[2 * existing] = serial + 1;
    else this.#insert(hash, serial);
    this.#noteStored(time);
  }

  /** Stores the id's bytes and row; returns its serial. */
  #store(id: string, hash: number, seq: number): number {
    const serial = this.#firstSerial + this.#rows.length;
    const room = this.#bytes.reserve(id.length * 3);
    const length = room.buffer.write(id, room.start);
    this.#bytes.commit(length);
    const row = this.#rows.push();
    this.#rows.set(row, HASH, hash);
    this.#rows.set(row, SEQ, seq);
    this.#rows.set(row, CHUNK, room.chunk);
    this.#rows.set(row, START, room.start);
    this.#rows.set(row, LENGTH, length);
    return serial;
  }

  /** Books the id just stored (the newest row) under `time`, and keeps to `maxIds`. */
  #noteStored(time: number): void {
    const end = this.#firstSerial + this.#rows.length;
    const last = this.#runs.peekBack();
    if (last?.time === time) last.end = end;
    else this.#runs.push({ time, end });
    if (this.#rows.length > this.#maxIds) this.#forgetBefore(this.#firstSerial + 1);
  }

  #rowOfSlot(slot: number): number {
    return this.#rows.at((this.#table[2 * slot] as number) - 1 - this.#firstSerial);
  }

  /** The slot holding `id`, or -1. */
  #find(id: string, hash: number): number {
    const table = this.#table;
    const mask = table.length / 2 - 1;
    for (let slot = hash & mask; table[2 * slot] !== 0; slot = (slot + 1) & mask) {
      if (table[2 * slot + 1] !== hash) continue;
      const row = this.#rowOfSlot(slot);
      const chunk = this.#bytes.chunk(this.#rows.get(row, CHUNK)) as Buffer;
      const start = this.#rows.get(row, START);
      if (chunk.toString('utf8', start, start + this.#rows.get(row, LENGTH)) === id) return slot;
    }
    return -1;
  }

  #insert(hash: number, serial: number): void {
    // At most half full, so probe runs stay short.
    if ((this.#rows.length + 1) * 4 > this.#table.length) this.#grow();
    const table = this.#table;
    const mask = table.length / 2 - 1;
    let slot = hash & mask;
    while (table[2 * slot] !== 0) slot = (slot + 1) & mask;
    table[2 * slot] = serial + 1;
    table[2 * slot + 1] = hash;
  }

  #grow(): void {
    const old = this.#table;
    const table = new Float64Array(old.length * 2);
    const mask = table.length / 2 - 1;
    for (let entry = 0; entry < old.length; entry += 2) {
      if (old[entry] === 0) continue;
      let slot = (old[entry + 1] as number) & mask;
      while (table[2 * slot] !== 0) slot = (slot + 1) & mask;
      table[2 * slot] = old[entry] as number;
      table[2 * slot + 1] = old[entry + 1] as number;
    }
    this.#table = table;
  }

  /** Empties a slot, moving later entries of its probe run back so every entry stays findable. */
  #remove(slot: number): void {
    const table = this.#table;
    const mask = table.length / 2 - 1;
    let hole = slot;
    let next = slot;
    for (;;) {
      next = (next + 1) & mask;
      if (table[2 * next] === 0) break;
      const home = (table[2 * next + 1] as number) & mask;
      // The entry at `next` stays unless the hole lies between its home slot and it (cyclically).
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      table[2 * hole] = table[2 * next] as number;
      table[2 * hole + 1] = table[2 * next + 1] as number;
      hole = next;
    }
    table[2 * hole] = 0;
  }

  #forgetBefore(serial: number): void {
    const table = this.#table;
    const mask = table.length / 2 - 1;
    while (this.#firstSerial < serial && this.#rows.length > 0) {
      const hash = this.#rows.get(this.#rows.at(0), HASH);
      // Its slot, unless the same id was remembered again later and took it over.
      for (let slot = hash & mask; table[2 * slot] !== 0; slot = (slot + 1) & mask) {
        if (table[2 * slot] === this.#firstSerial + 1) {
          this.#remove(slot);
          break;
        }
      }
      this.#rows.shift(1);
      this.#firstSerial++;
    }
    const oldest = this.#rows.at(0);
    this.#bytes.releaseBefore(oldest < 0 ? Number.MAX_SAFE_INTEGER : this.#rows.get(oldest, CHUNK));
  }
}
