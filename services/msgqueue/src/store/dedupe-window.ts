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
  /** Hash table, linear probing: serial + 1 of the id in each slot, 0 when empty. */
  #slots = new Float64Array(INITIAL_SLOTS);
  #hashes = new Uint32Array(INITIAL_SLOTS);
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

  /** Forgets ids stored before `now` minus the window; call once per group of `remember`s. */
  expire(now: number): void {
    const oldestKept = now - this.#windowMs;
    for (let run = this.#runs.peekFront(); run !== undefined && run.time < oldestKept; run = this.#runs.peekFront()) {
      this.#forgetBefore(run.end);
      this.#runs.shift();
    }
  }

  remember(id: string, seq: number, time: number): void {
    const hash = hashOf(id);
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
    // The same id twice (read back from a log that stored it again after forgetting it): the
    // later one answers.
    const existing = this.#find(id, hash);
    if (existing >= 0) this.#slots[existing] = serial + 1;
    else this.#insert(hash, serial);
    const last = this.#runs.peekBack();
    if (last?.time === time) last.end = serial + 1;
    else this.#runs.push({ time, end: serial + 1 });
    if (this.#rows.length > this.#maxIds) this.#forgetBefore(this.#firstSerial + 1);
  }

  #rowOfSlot(slot: number): number {
    return this.#rows.at((this.#slots[slot] as number) - 1 - this.#firstSerial);
  }

  /** The slot holding `id`, or -1. */
  #find(id: string, hash: number): number {
    const mask = this.#slots.length - 1;
    for (let slot = hash & mask; this.#slots[slot] !== 0; slot = (slot + 1) & mask) {
      if (this.#hashes[slot] !== hash) continue;
      const row = this.#rowOfSlot(slot);
      const chunk = this.#bytes.chunk(this.#rows.get(row, CHUNK)) as Buffer;
      const start = this.#rows.get(row, START);
      if (chunk.toString('utf8', start, start + this.#rows.get(row, LENGTH)) === id) return slot;
    }
    return -1;
  }

  #insert(hash: number, serial: number): void {
    // At most half full, so probe runs stay short.
    if ((this.#rows.length + 1) * 2 > this.#slots.length) this.#grow();
    const mask = this.#slots.length - 1;
    let slot = hash & mask;
    while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
    this.#slots[slot] = serial + 1;
    this.#hashes[slot] = hash;
  }

  #grow(): void {
    const slots = this.#slots;
    const hashes = this.#hashes;
    this.#slots = new Float64Array(slots.length * 2);
    this.#hashes = new Uint32Array(slots.length * 2);
    const mask = this.#slots.length - 1;
    for (let old = 0; old < slots.length; old++) {
      if (slots[old] === 0) continue;
      let slot = (hashes[old] as number) & mask;
      while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
      this.#slots[slot] = slots[old] as number;
      this.#hashes[slot] = hashes[old] as number;
    }
  }

  /** Empties a slot, moving later entries of its probe run back so every entry stays findable. */
  #remove(slot: number): void {
    const mask = this.#slots.length - 1;
    let hole = slot;
    let next = slot;
    for (;;) {
      next = (next + 1) & mask;
      if (this.#slots[next] === 0) break;
      const home = (this.#hashes[next] as number) & mask;
      // The entry at `next` stays unless the hole lies between its home slot and it (cyclically).
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      this.#slots[hole] = this.#slots[next] as number;
      this.#hashes[hole] = this.#hashes[next] as number;
      hole = next;
    }
    this.#slots[hole] = 0;
  }

  #forgetBefore(serial: number): void {
    const mask = this.#slots.length - 1;
    while (this.#firstSerial < serial && this.#rows.length > 0) {
      const hash = this.#rows.get(this.#rows.at(0), HASH);
      // Its slot, unless the same id was remembered again later and took it over.
      for (let slot = hash & mask; this.#slots[slot] !== 0; slot = (slot + 1) & mask) {
        if (this.#slots[slot] === this.#firstSerial + 1) {
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
