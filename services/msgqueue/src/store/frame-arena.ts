/** Where a frame's bytes are in the arena. */
export interface FrameSpan {
  readonly chunk: number;
  readonly start: number;
  readonly length: number;
}

const CHUNK_BYTES = 1024 * 1024;

/**
 * Frames as UTF-8 bytes in large buffers outside the V8 heap, appended in order and released
 * oldest first. Frames are written once and copied straight into outgoing batches and log
 * records, so the msgqueue neither keeps a string per message nor encodes one per delivery.
 */
export class FrameArena {
  readonly #chunks: Buffer[] = [];
  /** Number of the first chunk in `#chunks`; chunks are numbered from 0 in the order made. */
  #firstChunk = 0;
  /** Bytes used in the last chunk. */
  #used = 0;
  /** A chunk given back, kept for the next one needed: a steady flow allocates nothing new. */
  #spare: Buffer | undefined;

  /**
   * Room for a frame of at most `maxBytes` at the end of the arena: the buffer and where to
   * write. `commit` then says how many bytes were written.
   */
  reserve(maxBytes: number): { buffer: Buffer; chunk: number; start: number } {
    let last = this.#chunks.at(-1);
    if (last === undefined || last.length - this.#used < maxBytes) {
      if (maxBytes <= CHUNK_BYTES && this.#spare !== undefined) last = this.#spare;
      else last = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, maxBytes));
      if (last === this.#spare) this.#spare = undefined;
      this.#chunks.push(last);
      this.#used = 0;
    }
    return { buffer: last, chunk: this.#firstChunk + this.#chunks.length - 1, start: this.#used };
  }

  commit(bytes: number): void {
    this.#used += bytes;
  }

  /** The buffer holding chunk `chunk`; undefined once released. */
  chunk(chunk: number): Buffer | undefined {
    return this.#chunks[chunk - this.#firstChunk];
  }

  /** Copies a frame into `target` at `at`; returns the bytes copied. */
  copy(span: FrameSpan, target: Buffer, at: number): number {
    return (this.chunk(span.chunk) as Buffer).copy(target, at, span.start, span.start + span.length);
  }

  toString(span: FrameSpan): string {
    return (this.chunk(span.chunk) as Buffer).toString('utf8', span.start, span.start + span.length);
  }

  /** Releases every chunk before `chunk` (the first chunk still holding a retained frame). */
  releaseBefore(chunk: number): void {
    const count = Math.min(chunk - this.#firstChunk, this.#chunks.length - 1);
    if (count <= 0) return;
    const released = this.#chunks.splice(0, count).at(-1);
    // Only a standard chunk is kept: one made for an outsized frame goes.
    if (released?.length === CHUNK_BYTES) this.#spare = released;
    this.#firstChunk += count;
  }
}
