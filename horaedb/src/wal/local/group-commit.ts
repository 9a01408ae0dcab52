interface Waiter<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface GroupCommitOptions<T> {
  /** Writes and syncs one group; items are in enqueue order. */
  readonly commit: (group: readonly T[]) => Promise<void>;
  /** Size of an item towards `maxGroupBytes`. */
  readonly bytesOf: (item: T) => number;
  /** A group stops growing before it would exceed this (a single larger item forms its own group). */
  readonly maxGroupBytes: number;
  /** Upper bound on items per group. */
  readonly maxGroupItems: number;
}

/**
 * Group commit: at most one `commit` runs at a time; items enqueued while it runs wait and are all
 * committed together by the next one, so concurrent writers share one write and one sync. The
 * first commit after an idle period starts on a microtask, so items enqueued in the same tick also
 * share it.
 */
export class GroupCommitQueue<T> {
  readonly #options: GroupCommitOptions<T>;
  #waiting: Waiter<T>[] = [];
  #draining: Promise<void> | undefined;

  constructor(options: GroupCommitOptions<T>) {
    this.#options = options;
  }

  /** Resolves once the commit that includes `item` has succeeded; rejects with its error. */
  enqueue(item: T): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
    });
    this.#draining ??= this.#drain();
    return done;
  }

  /** Resolves when every item enqueued so far has been committed or failed. */
  async whenIdle(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  async #drain(): Promise<void> {
    await Promise.resolve(); // let the rest of the current tick enqueue into the first group
    for (;;) {
      if (this.#waiting.length === 0) {
        // Cleared in the same step as the emptiness check: an item enqueued after this starts a
        // new drain, and none can be left behind.
        this.#draining = undefined;
        return;
      }
      const group = this.#takeGroup();
      try {
        await this.#options.commit(group.map((w) => w.item));
        for (const waiter of group) waiter.resolve();
      } catch (error) {
        for (const waiter of group) waiter.reject(error);
      }
    }
  }

  #takeGroup(): Waiter<T>[] {
    const { bytesOf, maxGroupBytes, maxGroupItems } = this.#options;
    let count = 0;
    let bytes = 0;
    for (const waiter of this.#waiting) {
      const size = bytesOf(waiter.item);
      if (count > 0 && (bytes + size > maxGroupBytes || count >= maxGroupItems)) break;
      bytes += size;
      count++;
    }
    return this.#waiting.splice(0, count);
  }
}
