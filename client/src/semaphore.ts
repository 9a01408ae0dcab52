/** A counting semaphore whose waiters are served first come, first served. */
export class Semaphore {
  readonly #capacity: number;
  #available: number;
  readonly #waiters: Array<() => void> = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`bad semaphore capacity ${capacity}`);
    this.#capacity = capacity;
    this.#available = capacity;
  }

  /** Permits currently taken. */
  get inUse(): number {
    return this.#capacity - this.#available;
  }

  /** Resolves once a permit is taken; call the returned function exactly once to give it back. */
  async acquire(): Promise<() => void> {
    if (this.#available > 0 && this.#waiters.length === 0) {
      this.#available--;
    } else {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      // The permit passes straight to the next waiter, so the count never goes up then down.
      if (next !== undefined) next();
      else this.#available++;
    };
  }
}
