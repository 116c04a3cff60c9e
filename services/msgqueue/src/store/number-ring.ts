/**
 * A FIFO of fixed-width rows of numbers in Float64Array blocks. The log keeps one row per
 * retained message here instead of an object per message: the garbage collector never visits
 * them, which at tens of thousands of messages a second is most of what retained history used
 * to cost. Blocks are added as rows come and dropped as they go, so nothing is ever copied to
 * grow, and memory comes back after a burst.
 */
export class NumberRing {
  readonly #width: number;
  readonly #rowsPerBlock: number;
  readonly #blocks: Float64Array[] = [];
  /** Number of the first block in `#blocks`; blocks are numbered from 0 in the order made. */
  #firstBlock = 0;
  /** Row number of the first row; rows are numbered from 0 in the order pushed. */
  #head = 0;
  #length = 0;
  /** A block given back, kept for the next one needed: a steady flow allocates nothing. */
  #spare: Float64Array | undefined;

  constructor(width: number, rowsPerBlock = 4096) {
    this.#width = width;
    this.#rowsPerBlock = rowsPerBlock;
  }

  get length(): number {
    return this.#length;
  }

  /** Appends a row; returns its position, for `set`. */
  push(): number {
    const row = this.#head + this.#length;
    const block = Math.floor(row / this.#rowsPerBlock);
    if (block - this.#firstBlock === this.#blocks.length) {
      this.#blocks.push(this.#spare ?? new Float64Array(this.#width * this.#rowsPerBlock));
      this.#spare = undefined;
    }
    this.#length++;
    return row;
  }

  /** The position of row `index` (0 = oldest), or -1 when there is no such row. */
  at(index: number): number {
    return index < 0 || index >= this.#length ? -1 : this.#head + index;
  }

  get(position: number, column: number): number {
    const block = Math.floor(position / this.#rowsPerBlock);
    const row = position - block * this.#rowsPerBlock;
    return (this.#blocks[block - this.#firstBlock] as Float64Array)[row * this.#width + column] as number;
  }

  set(position: number, column: number, value: number): void {
    const block = Math.floor(position / this.#rowsPerBlock);
    const row = position - block * this.#rowsPerBlock;
    (this.#blocks[block - this.#firstBlock] as Float64Array)[row * this.#width + column] = value;
  }

  /** Drops the oldest `count` rows, and the blocks they emptied. */
  shift(count: number): void {
    const dropped = Math.min(count, this.#length);
    this.#head += dropped;
    this.#length -= dropped;
    const firstNeeded = Math.floor(this.#head / this.#rowsPerBlock);
    while (this.#firstBlock < firstNeeded && this.#blocks.length > 0) {
      this.#spare = this.#blocks.shift();
      this.#firstBlock++;
    }
  }
}
