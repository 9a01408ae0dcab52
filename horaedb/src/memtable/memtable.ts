import type { Column } from "../batch/column.js";
import { alignToSchema, batchByteSize, type ColumnBatch } from "../batch/column-batch.js";
import { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS } from "../table/data-type.js";
import { UpdateMode } from "../table/options.js";
import type { TableSchema } from "../table/schema.js";
import {
  IncompatibleSchemaError,
  InvalidBatchError,
  MemtableFrozenError,
  type MemtableErrorContext,
} from "./errors.js";
import { MemtableSnapshot, type MemtableScanOptions } from "./snapshot.js";
import { runSteps } from "./radix-sort.js";
import { groupRowsBySeries } from "./series-grouping.js";
import { sortedViewSteps, type MemtableChunk, type SortedView } from "./sorted-view.js";

export interface MemtableOptions {
  readonly schema: TableSchema;
  /** From the table's options; OVERWRITE by default. */
  readonly updateMode?: UpdateMode;
  /** Table name or id, for error messages. */
  readonly table?: string;
  /** Clock for `createdAt`, in milliseconds; `Date.now` by default. */
  readonly now?: () => number;
}

/**
 * Estimated heap bytes of one appended chunk beyond its values: the chunk record with its sequence
 * and statistics, and per column the Column object and typed-array headers. Counting it keeps
 * memory accounting honest when writes are small.
 */
export const CHUNK_OVERHEAD_BYTES = 96;
export const COLUMN_OVERHEAD_BYTES = 160;

let nextMemtableId = 1;

/**
 * The recently written rows of one table, held in memory until flushed to an SST. Appends keep the
 * batches (laid out as the schema, a tsid's rows grouped together) with their WAL sequence: no
 * per-row objects, no sorting. Reads sort on demand and cache the sorted order until the next
 * append. Once frozen, a memtable refuses appends but stays readable until its SST is in the
 * manifest.
 */
export class Memtable {
  /** Unique within the process; orders memtables by creation. */
  readonly id: number;
  /** When the memtable was created (ms), for the max-unflushed-age flush trigger. */
  readonly createdAt: number;
  readonly updateMode: UpdateMode;
  readonly table: string | undefined;
  #schema: TableSchema;
  readonly #chunks: MemtableChunk[] = [];
  #frozen = false;
  #numRows = 0;
  #byteSize = 0;
  #minSequence = Infinity;
  #maxSequence = -Infinity;
  #minTimestamp = Infinity;
  #maxTimestamp = -Infinity;
  #sorted: { readonly chunkCount: number; readonly view: SortedView } | undefined;
  #sortCount = 0;

  constructor(options: MemtableOptions) {
    this.id = nextMemtableId++;
    this.#schema = options.schema;
    this.updateMode = options.updateMode ?? UpdateMode.Overwrite;
    this.table = options.table;
    this.createdAt = (options.now ?? Date.now)();
  }

  get schema(): TableSchema {
    return this.#schema;
  }

  get isFrozen(): boolean {
    return this.#frozen;
  }

  get isEmpty(): boolean {
    return this.#numRows === 0;
  }

  /** Rows appended (before deduplication). */
  get numRows(): number {
    return this.#numRows;
  }

  /** Number of appends held (each one chunk). */
  get chunkCount(): number {
    return this.#chunks.length;
  }

  /** How many times reads had to sort (the sorted order is reused until the rows change). */
  get sortCount(): number {
    return this.#sortCount;
  }

  /** Estimated heap bytes of the rows held, for flush triggers and the instance memory budget. */
  get byteSize(): number {
    return this.#byteSize;
  }

  get minSequence(): number | undefined {
    return this.isEmpty ? undefined : this.#minSequence;
  }

  get maxSequence(): number | undefined {
    return this.isEmpty ? undefined : this.#maxSequence;
  }

  get minTimestamp(): number | undefined {
    return this.isEmpty ? undefined : this.#minTimestamp;
  }

  get maxTimestamp(): number | undefined {
    return this.isEmpty ? undefined : this.#maxTimestamp;
  }

  /**
   * Adds the rows of `batch`, all written under WAL `sequence`, and returns the bytes added. The
   * batch's arrays are kept, not copied (unless its rows have to be grouped by tsid, see
   * `groupRowsBySeries`): the caller must not modify them afterwards. Sequences may
   * arrive out of order (concurrent writes); reads order rows by sequence, not by append order.
   * An empty batch is accepted and changes nothing.
   */
  append(batch: ColumnBatch, sequence: number): number {
    if (this.#frozen) {
      throw new MemtableFrozenError(
        `cannot append at sequence ${sequence}: the memtable is frozen`,
        this.#context(),
      );
    }
    if (!Number.isSafeInteger(sequence) || sequence < 0) {
      throw new InvalidBatchError(
        `sequence must be a non-negative integer, not ${sequence}`,
        this.#context(),
      );
    }
    const timeRange = checkBatch(batch, this.#schema, this.#context());
    if (batch.numRows === 0 || timeRange === undefined) return 0;
    const laidOut = alignToSchema(batch, this.#schema);
    const aligned = this.#schema.hasTsid ? groupRowsBySeries(laidOut) : laidOut;
    this.#chunks.push({
      batch: aligned,
      schema: this.#schema,
      sequence,
      minTimestamp: timeRange.min,
      maxTimestamp: timeRange.max,
    });
    const bytes =
      batchByteSize(aligned) + CHUNK_OVERHEAD_BYTES + COLUMN_OVERHEAD_BYTES * aligned.columns.length;
    this.#numRows += batch.numRows;
    this.#byteSize += bytes;
    this.#minSequence = Math.min(this.#minSequence, sequence);
    this.#maxSequence = Math.max(this.#maxSequence, sequence);
    this.#minTimestamp = Math.min(this.#minTimestamp, timeRange.min);
    this.#maxTimestamp = Math.max(this.#maxTimestamp, timeRange.max);
    return bytes;
  }

  /** Makes the memtable immutable; later appends throw MemtableFrozenError. Idempotent. */
  freeze(): void {
    this.#frozen = true;
  }

  /**
   * Moves to a newer schema of the same table (columns added): later appends are laid out as it,
   * rows already held read as null in the added columns.
   */
  updateSchema(schema: TableSchema): void {
    if (this.#frozen) {
      throw new MemtableFrozenError(
        `cannot change the schema to version ${schema.version}: frozen`,
        this.#context(),
      );
    }
    checkSchemaSuccessor(this.#schema, schema, this.#context());
    this.#schema = schema;
  }

  /**
   * The rows held now, unaffected by later appends. `schema` lays them out as a newer schema of
   * the table (a set reads frozen memtables as its current schema); by default the memtable's own.
   */
  snapshot(schema: TableSchema = this.#schema): MemtableSnapshot {
    if (schema !== this.#schema) checkSchemaSuccessor(this.#schema, schema, this.#context());
    const chunks = this.#chunks.slice();
    return new MemtableSnapshot({
      schema,
      updateMode: this.updateMode,
      chunks,
      sortedView: () => runSteps(this.#sortedViewSteps(chunks)),
      sortedViewSteps: () => this.#sortedViewSteps(chunks),
      table: this.table,
      memtableId: this.id,
    });
  }

  /** Shorthand for `snapshot().sortedBatches(options)`. */
  sortedBatches(options?: MemtableScanOptions): IterableIterator<ColumnBatch> {
    return this.snapshot().sortedBatches(options);
  }

  /**
   * The sorted order of the first `chunks.length` chunks, cached while no append follows; in steps
   * (see `sortedViewSteps`), so a flush can sort without holding up the event loop.
   */
  *#sortedViewSteps(chunks: readonly MemtableChunk[]): Generator<void, SortedView> {
    const cached = this.#sorted;
    if (cached !== undefined && cached.chunkCount === chunks.length) return cached.view;
    const view = yield* sortedViewSteps(chunks, this.#schema, this.updateMode);
    this.#sortCount++;
    // Appends may have come in between the steps; the order is then not that of the memtable.
    if (chunks.length === this.#chunks.length) this.#sorted = { chunkCount: chunks.length, view };
    return view;
  }

  #context(): MemtableErrorContext {
    return { table: this.table, memtableId: this.id };
  }
}

/**
 * Checks that `batch` can be laid out as `schema` and returns its timestamp range (undefined for
 * an empty batch). Key columns must be present and never null: the sort and the dedup rely on it.
 */
function checkBatch(
  batch: ColumnBatch,
  schema: TableSchema,
  context: MemtableErrorContext,
): { min: number; max: number } | undefined {
  const fail = (message: string, column?: string): never => {
    throw new InvalidBatchError(message, { ...context, column });
  };
  const rows = batch.numRows;
  if (!Number.isSafeInteger(rows) || rows < 0) fail(`row count must be a non-negative integer, not ${rows}`);
  if (batch.names.length !== batch.columns.length) {
    fail(`batch has ${batch.names.length} names for ${batch.columns.length} columns`);
  }
  for (let i = 0; i < batch.names.length; i++) {
    const name = batch.names[i] as string;
    const column = batch.columns[i] as Column;
    const expected = schema.column(name);
    if (expected === undefined) fail(`column "${name}" is not in schema version ${schema.version}`, name);
    else if (column.type !== expected.type) {
      fail(`column "${name}" has type ${column.type}, the schema says ${expected.type}`, name);
    } else if (
      !expected.nullable &&
      column.validity !== null &&
      column.validity.subarray(0, rows).includes(0)
    ) {
      fail(`column "${name}" cannot be null`, name);
    }
    if (column.values.length < rows)
      fail(`column "${name}" has ${column.values.length} values for ${rows} rows`, name);
    if (column.validity !== null && column.validity.length < rows) {
      fail(`column "${name}" has ${column.validity.length} validity bytes for ${rows} rows`, name);
    }
  }
  for (const key of schema.primaryKey) {
    if (!batch.names.includes(key)) fail(`primary key column "${key}" is missing`, key);
  }
  const tsIndex = batch.names.indexOf(schema.timestampColumn);
  if (tsIndex < 0) fail(`timestamp column "${schema.timestampColumn}" is missing`, schema.timestampColumn);
  if (rows === 0) return undefined;
  const timestamps = (batch.columns[tsIndex] as Column).values as Float64Array;
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < rows; r++) {
    const ts = timestamps[r] as number;
    // Written as a negated range test so NaN fails too.
    if (!(ts >= MIN_TIMESTAMP_MS && ts <= MAX_TIMESTAMP_MS)) {
      fail(`timestamp ${ts} at row ${r} is out of range`, schema.timestampColumn);
    }
    if (ts < min) min = ts;
    if (ts > max) max = ts;
  }
  return { min, max };
}

/** A memtable may move only to a later schema with the same key that keeps every column's type. */
export function checkSchemaSuccessor(
  current: TableSchema,
  next: TableSchema,
  context: MemtableErrorContext,
): void {
  const fail = (message: string, column?: string): never => {
    throw new IncompatibleSchemaError(
      `schema version ${next.version} cannot replace version ${current.version}: ${message}`,
      { ...context, column },
    );
  };
  if (next.version < current.version) fail("it is older");
  if (next.timestampColumn !== current.timestampColumn) fail("the timestamp column differs");
  if (next.primaryKey.join("\u0000") !== current.primaryKey.join("\u0000")) fail("the primary key differs");
  for (const column of current.columns) {
    const now = next.column(column.name);
    if (now === undefined) fail(`column "${column.name}" was dropped`, column.name);
    else if (now.type !== column.type) fail(`column "${column.name}" changed type`, column.name);
  }
}
