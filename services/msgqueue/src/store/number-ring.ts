/**
 * A FIFO of fixed-width rows of numbers in one Float64Array that doubles as it fills. The log
 * keeps one row per retained message here instead of an object per message: the garbage
 * collector never visits them, which at tens of thousands of messages a second is most of what
 * retained history used to cost.
 */
export class NumberRing {
  readonly #width: number;
  #data: Float64Array;
  /** Row capacity. */
  #capacity: number;
  /** Row index of the first row. */
  #head = 0;
  #length = 0;

  constructor(width: number, initialRows = 1024) {
    this.#width = width;
    this.#capacity = initialRows;
    this.#data = new Float64Array(width * initialRows);
  }

  get length(): number {
    return this.#length;
  }

  /** Appends a row; returns where its columns start, for `set`. */
  push(): number {
    if (this.#length === this.#capacity) this.#grow();
    const row = (this.#head + this.#length) % this.#capacity;
    this.#length++;
    return row * this.#width;
  }

  /** Where row `index` (0 = oldest) starts, or -1 when there is no such row. */
  at(index: number): number {
    if (index < 0 || index >= this.#length) return -1;
    return ((this.#head + index) % this.#capacity) * this.#width;
  }

  get(at: number, column: number): number {
    return this.#data[at + column] as number;
  }

  set(at: number, column: number, value: number): void {
    this.#data[at + column] = value;
  }

  /** Drops the oldest `count` rows. */
  shift(count: number): void {
    const dropped = Math.min(count, this.#length);
    this.#head = (this.#head + dropped) % this.#capacity;
    this.#length -= dropped;
  }

  #grow(): void {
    const capacity = this.#capacity * 2;
    const data = new Float64Array(this.#width * capacity);
    // Unwrapped into the new array: the rows from the head to the end, then those before it.
    const headAt = this.#head * this.#width;
    const tail = this.#data.subarray(headAt);
    data.set(tail, 0);
    data.set(this.#data.subarray(0, headAt), tail.length);
    this.#data = data;
    this.#capacity = capacity;
    this.#head = 0;
  }
}
