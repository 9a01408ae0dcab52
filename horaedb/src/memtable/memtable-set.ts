import type { ColumnBatch } from "../batch/column-batch.js";
import { UpdateMode } from "../table/options.js";
import type { TableSchema } from "../table/schema.js";
import { MemtableNotFoundError } from "./errors.js";
import { Memtable, type MemtableOptions } from "./memtable.js";
import type { TableMemoryUsage } from "./memory-tracker.js";
import { MemtableSnapshot, type MemtableScanOptions } from "./snapshot.js";
import { buildSortedView, type MemtableChunk, type SortedView } from "./sorted-view.js";

/**
 * The memtables of one table: the mutable one that takes writes, and the frozen ones awaiting
 * flush (oldest first). Reads see all of them as one sorted, deduplicated set of rows; on equal keys
 * the row with the higher sequence wins, whichever memtable holds it.
 */
export class MemtableSet {
  readonly updateMode: UpdateMode;
  readonly table: string | undefined;
  readonly #now: (() => number) | undefined;
  #schema: TableSchema;
  #mutable: Memtable;
  #immutables: Memtable[] = [];
  #sorted: { readonly key: string; readonly view: SortedView } | undefined;
  #sortCount = 0;

  constructor(options: MemtableOptions) {
    this.updateMode = options.updateMode ?? UpdateMode.Overwrite;
    this.table = options.table;
    this.#now = options.now;
    this.#schema = options.schema;
    this.#mutable = this.#newMemtable();
  }

  get schema(): TableSchema {
    return this.#schema;
  }

  /** The memtable that takes writes. */
  get mutable(): Memtable {
    return this.#mutable;
  }

  /** Frozen memtables awaiting flush, oldest first. */
  get immutables(): readonly Memtable[] {
    return this.#immutables.slice();
  }

  get numRows(): number {
    return this.#all().reduce((sum, m) => sum + m.numRows, 0);
  }

  get isEmpty(): boolean {
    return this.#all().every((m) => m.isEmpty);
  }

  get byteSize(): number {
    const usage = this.memoryUsage();
    return usage.mutableBytes + usage.immutableBytes;
  }

  /** How many times reads had to sort (the sorted order is reused until the rows change). */
  get sortCount(): number {
    return this.#sortCount;
  }

  /** Bytes in the mutable memtable, and in frozen ones (already on their way out). */
  memoryUsage(): TableMemoryUsage {
    return {
      mutableBytes: this.#mutable.byteSize,
      immutableBytes: this.#immutables.reduce((sum, m) => sum + m.byteSize, 0),
    };
  }

  /** Lowest sequence of any row not yet flushed, across all memtables; undefined when empty. */
  get minSequence(): number | undefined {
    return extreme(
      this.#all().map((m) => m.minSequence),
      Math.min,
    );
  }

  get maxSequence(): number | undefined {
    return extreme(
      this.#all().map((m) => m.maxSequence),
      Math.max,
    );
  }

  /** Appends to the mutable memtable; returns the bytes added. */
  append(batch: ColumnBatch, sequence: number): number {
    return this.#mutable.append(batch, sequence);
  }

  /**
   * Freezes the mutable memtable and starts a fresh one for the writes that follow. Returns the
   * frozen memtable, to be flushed; undefined (and nothing changes) when the mutable one is empty.
   */
  switchMemtable(): Memtable | undefined {
    const frozen = this.#mutable;
    if (frozen.isEmpty) return undefined;
    frozen.freeze();
    this.#immutables.push(frozen);
    this.#mutable = this.#newMemtable();
    return frozen;
  }

  /** Drops a frozen memtable whose rows are now in an SST listed in the manifest. */
  removeFlushed(memtable: Memtable): void {
    const i = this.#immutables.indexOf(memtable);
    if (i < 0) {
      throw new MemtableNotFoundError("is not a frozen memtable of this table awaiting flush", {
        table: this.table,
        memtableId: memtable.id,
      });
    }
    this.#immutables.splice(i, 1);
    // The merged order covered the removed rows; drop it rather than keep it alive until the next read.
    this.#sorted = undefined;
  }

  /** Moves the table to a newer schema (columns added); frozen memtables are read as it too. */
  updateSchema(schema: TableSchema): void {
    this.#mutable.updateSchema(schema);
    this.#schema = schema;
  }

  /**
   * The rows of every memtable now, as one snapshot laid out as the current schema. With several
   * memtables holding rows, the merged sort is cached until any of them changes.
   */
  snapshot(): MemtableSnapshot {
    const parts = this.#all()
      .filter((m) => !m.isEmpty)
      .map((m) => m.snapshot(this.#schema));
    if (parts.length === 1) return parts[0] as MemtableSnapshot;
    const chunks: MemtableChunk[] = parts.flatMap((p) => p.chunks);
    const key = this.#contentKey();
    return new MemtableSnapshot({
      schema: this.#schema,
      updateMode: this.updateMode,
      chunks,
      sortedView: () => this.#sortedView(key, chunks),
      table: this.table,
    });
  }

  /** Shorthand for `snapshot().sortedBatches(options)`. */
  sortedBatches(options?: MemtableScanOptions): IterableIterator<ColumnBatch> {
    return this.snapshot().sortedBatches(options);
  }

  /**
   * Sorts the chunks of all memtables together. Chunks are listed oldest memtable first, and the
   * sort orders equal keys by sequence before position, so the highest sequence wins regardless of
   * which memtable holds the row.
   */
  #sortedView(key: string, chunks: readonly MemtableChunk[]): SortedView {
    if (this.#sorted?.key === key) return this.#sorted.view;
    const view = buildSortedView(chunks, this.#schema, this.updateMode);
    this.#sortCount++;
    // A snapshot read after later appends must not replace the cache of the current rows.
    if (key === this.#contentKey()) this.#sorted = { key, view };
    return view;
  }

  /** Identifies the rows held: which memtables, and how many appends each holds. */
  #contentKey(): string {
    return this.#all()
      .filter((m) => !m.isEmpty)
      .map((m) => `${m.id}:${m.chunkCount}`)
      .join(",");
  }

  #all(): Memtable[] {
    return [...this.#immutables, this.#mutable];
  }

  #newMemtable(): Memtable {
    return new Memtable({
      schema: this.#schema,
      updateMode: this.updateMode,
      table: this.table,
      now: this.#now,
    });
  }
}

function extreme(
  values: readonly (number | undefined)[],
  pick: (a: number, b: number) => number,
): number | undefined {
  let result: number | undefined;
  for (const v of values) if (v !== undefined) result = result === undefined ? v : pick(result, v);
  return result;
}
