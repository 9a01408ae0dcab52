/** A table's memtable bytes: in its mutable memtable, and in frozen ones being flushed. */
export interface TableMemoryUsage {
  readonly mutableBytes: number;
  readonly immutableBytes: number;
}

export interface MemoryTrackerOptions {
  /** Instance-wide memtable budget; beyond it the largest table should be flushed. */
  readonly budgetBytes: number;
  /** Total at or above which writes are refused; default `budgetBytes * hardLimitRatio`. */
  readonly hardLimitBytes?: number;
  /** Used when `hardLimitBytes` is absent; default 1.5. */
  readonly hardLimitRatio?: number;
}

export const DEFAULT_HARD_LIMIT_RATIO = 1.5;

const EMPTY_USAGE: TableMemoryUsage = Object.freeze({ mutableBytes: 0, immutableBytes: 0 });

/**
 * Accounts memtable bytes per table and for the whole instance against a budget. It decides nothing
 * on its own (no timers): the write path reports each table's usage after appends, switches and
 * flushes, asks which table to flush, and asks whether to refuse a write.
 *
 * Bytes in frozen memtables are already being flushed, so they count towards the hard limit but not
 * towards the flush decision: flushing another table would not free them sooner.
 */
export class MemoryTracker {
  readonly budgetBytes: number;
  readonly hardLimitBytes: number;
  readonly #tables = new Map<number, TableMemoryUsage>();
  #mutableBytes = 0;
  #immutableBytes = 0;
  #admittedBytes = 0;

  constructor(options: MemoryTrackerOptions) {
    const { budgetBytes } = options;
    if (!(budgetBytes > 0) || !Number.isFinite(budgetBytes)) {
      throw new RangeError(`memory budget must be a positive number of bytes, not ${budgetBytes}`);
    }
    const ratio = options.hardLimitRatio ?? DEFAULT_HARD_LIMIT_RATIO;
    const hardLimit = options.hardLimitBytes ?? Math.floor(budgetBytes * ratio);
    if (!(hardLimit >= budgetBytes) || !Number.isFinite(hardLimit)) {
      throw new RangeError(`memory hard limit ${hardLimit} must be at least the budget ${budgetBytes}`);
    }
    this.budgetBytes = budgetBytes;
    this.hardLimitBytes = hardLimit;
  }

  /** Records a table's current usage (replacing what was recorded before). */
  update(tableId: number, usage: TableMemoryUsage): void {
    if (!(usage.mutableBytes >= 0 && usage.immutableBytes >= 0)) {
      throw new RangeError(
        `table ${tableId}: memory usage must be non-negative, not ${usage.mutableBytes}/${usage.immutableBytes}`,
      );
    }
    const before = this.#tables.get(tableId) ?? EMPTY_USAGE;
    this.#mutableBytes += usage.mutableBytes - before.mutableBytes;
    this.#immutableBytes += usage.immutableBytes - before.immutableBytes;
    if (usage.mutableBytes === 0 && usage.immutableBytes === 0) this.#tables.delete(tableId);
    else
      this.#tables.set(tableId, { mutableBytes: usage.mutableBytes, immutableBytes: usage.immutableBytes });
  }

  /** Forgets a table (closed or dropped). */
  remove(tableId: number): void {
    this.update(tableId, EMPTY_USAGE);
  }

  usageOf(tableId: number): TableMemoryUsage {
    return this.#tables.get(tableId) ?? EMPTY_USAGE;
  }

  get totalBytes(): number {
    return this.#mutableBytes + this.#immutableBytes;
  }

  get mutableBytes(): number {
    return this.#mutableBytes;
  }

  get immutableBytes(): number {
    return this.#immutableBytes;
  }

  /** Whether the bytes not yet being flushed exceed the budget, i.e. a flush should start. */
  get needsFlush(): boolean {
    return this.#mutableBytes > this.budgetBytes;
  }

  /**
   * The table to flush now: the one with the largest mutable memtable, while the bytes not yet
   * being flushed exceed the budget. Ties go to the lower table id.
   */
  pickTableToFlush(): number | undefined {
    return this.needsFlush ? this.tablesToFlush()[0] : undefined;
  }

  /** Tables to flush, largest mutable memtable first, until the rest fits the budget. */
  tablesToFlush(): number[] {
    let remaining = this.#mutableBytes;
    if (remaining <= this.budgetBytes) return [];
    const bySize = [...this.#tables]
      .filter(([, usage]) => usage.mutableBytes > 0)
      .sort(([aId, a], [bId, b]) => b.mutableBytes - a.mutableBytes || aId - bId);
    const chosen: number[] = [];
    for (const [tableId, usage] of bySize) {
      if (remaining <= this.budgetBytes) break;
      chosen.push(tableId);
      remaining -= usage.mutableBytes;
    }
    return chosen;
  }

  /** Estimated bytes of the writes admitted and not yet applied to their memtables. */
  get admittedBytes(): number {
    return this.#admittedBytes;
  }

  /**
   * Admits a write of about `bytes`, unless the memtables and the writes admitted before it are at
   * or above the hard limit; returns the function to call once the write is applied (or failed),
   * or undefined when it must be refused. Counting writes in flight keeps many concurrent writes,
   * each checked before any is applied, from passing the limit together: it is passed by at most
   * one write.
   */
  admit(bytes: number): (() => void) | undefined {
    if (this.totalBytes + this.#admittedBytes >= this.hardLimitBytes) return undefined;
    this.#admittedBytes += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#admittedBytes -= bytes;
    };
  }
}
