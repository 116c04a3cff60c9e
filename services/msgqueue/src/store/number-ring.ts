/**
 * A FIFO of fixed-width rows of numbers in one Float64Array that doubles as it fills. The log
 * keeps one row per retained message here instead of an object per message: the garbage
 * collector never visits them, which at tens of thousands of messages a second is most of what
 * retained history used to cost.
 */
export class NumberRing {
  readonly #width: number;
  readonly #initialRows: number;
  #data: Float64Array;
  /** Row capacity. */
  #capacity: number;
  /** Row index of the first row. */
  #head = 0;
  #length = 0;

  constructor(width: number, initialRows = 1024) {
    this.#width = width;
    this.#initialRows = initialRows;
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

  /** Drops the oldest `count` rows; gives memory back once a quarter or less is in use. */
  shift(count: number): void {
    const dropped = Math.min(count, this.#length);
    this.#head = (this.#head + dropped) % this.#capacity;
    this.#length -= dropped;
    if (this.#capacity > this.#initialRows && this.#length <= this.#capacity / 4) this.#resize(this.#capacity / 2);
  }

  #grow(): void {
    this.#resize(this.#capacity * 2);
  }

  #resize(capacity: number): void {
    const data = new Float64Array(this.#width * capacity);
    // Unwrapped into the new array: the rows from the head on, then those before it if it wrapped.
    const headAt = this.#head * this.#width;
    const endAt = headAt + this.#length * this.#width;
    const wrapped = Math.max(0, endAt - this.#data.length);
    data.set(this.#data.subarray(headAt, endAt - wrapped), 0);
    data.set(this.#data.subarray(0, wrapped), endAt - wrapped - headAt);
    this.#data = data;
    this.#capacity = capacity;
    this.#head = 0;
  }
}
