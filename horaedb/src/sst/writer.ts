/**
 * Writing an SST: sorted rows of one table -> Parquet bytes + SstMeta.
 *
 * In the calling thread, in short steps: check the rows, compute row-group statistics and lay each
 * column out in Arrow buffers. In an encoder worker (or, by option, here): Arrow IPC serialisation,
 * Parquet encoding and compression in parquet-wasm, and sealing the checksum.
 */
import type { Column } from "../batch/column.js";
import { alignToSchema, type ColumnBatch } from "../batch/column-batch.js";
import type { ObjectStore, PutOptions } from "../object-store/object-store.js";
import { DataType } from "../table/data-type.js";
import { DEFAULT_TABLE_OPTIONS, type SstCompression, type TableOptions } from "../table/options.js";
import type { TableSchema } from "../table/schema.js";
import { arrowColumnBuffers, ownColumn, type ArrowColumnBuffers } from "./arrow-convert.js";
import { concatColumns } from "./column-concat.js";
import type { SstEncoderPool } from "./encoder-pool.js";
import { SstEncodeError, SstInputError } from "./errors.js";
import { encodeColumns, type ParquetColumnSettings, type ParquetEncodeSettings } from "./parquet-encode.js";
import { primaryKeyOrderChecker, rowGroupStatsBuilder } from "./row-group-stats.js";
import { embeddedMetaJson, SST_FORMAT_VERSION, type RowGroupMeta, type SstMeta } from "./sst-meta.js";

export interface SstWriteRequest {
  readonly schema: TableSchema;
  /**
   * The rows, sorted by primary key across all batches (and deduplicated, for OVERWRITE tables).
   * Batches may carry a subset of the schema's columns; missing nullable columns are written as nulls.
   */
  readonly batches: readonly ColumnBatch[];
  /** SST options of the table; defaults from DEFAULT_TABLE_OPTIONS. */
  readonly options?: Partial<Pick<TableOptions, "compression" | "numRowsPerRowGroup">>;
  /** Largest WAL sequence of any of the rows. */
  readonly maxSequence: number;
  /** Table name or id, for error messages. */
  readonly table?: string;
  /**
   * The batches' arrays belong to this request alone and are not read again once it is made: an
   * encoder worker may take them over (they are detached from this thread) instead of copies.
   */
  readonly handOverArrays?: boolean;
}

export interface EncodedSst {
  readonly bytes: Uint8Array;
  readonly meta: SstMeta;
}

export interface SstWriterOptions {
  /** Encode in this pool's workers; without one, encoding runs in the calling thread. */
  readonly pool?: SstEncoderPool;
  /** Files of at most this many rows are encoded in the calling thread even with a pool (default 4096). */
  readonly inThreadMaxRows?: number;
}

const DEFAULT_IN_THREAD_MAX_ROWS = 4096;

export class SstWriter {
  readonly #pool: SstEncoderPool | undefined;
  readonly #inThreadMaxRows: number;

  constructor(options: SstWriterOptions = {}) {
    this.#pool = options.pool;
    this.#inThreadMaxRows = options.inThreadMaxRows ?? DEFAULT_IN_THREAD_MAX_ROWS;
  }

  /** How many SSTs this writer encodes at once (its pool's workers; 1 in the calling thread). */
  get encodeParallelism(): number {
    return this.#pool?.size ?? 1;
  }

  /** Encodes the rows; throws SstInputError for rows that break the contract, SstEncodeError if encoding fails. */
  async encode(request: SstWriteRequest): Promise<EncodedSst> {
    const pool = this.#pool;
    const rowCount = request.batches.reduce((sum, b) => sum + b.numRows, 0);
    const inWorker = pool !== undefined && rowCount > this.#inThreadMaxRows;
    const prepared = await prepareSst(request, inWorker);
    let result;
    if (inWorker) {
      result = await pool.encode(prepared.columns, prepared.settings);
    } else {
      try {
        result = encodeColumns(prepared.columns, prepared.settings);
      } catch (error) {
        throw new SstEncodeError(error instanceof Error ? error.message : String(error), { cause: error });
      }
    }
    return {
      bytes: result.bytes,
      meta: { ...prepared.meta, fileSize: result.bytes.length, crc32c: result.crc32c },
    };
  }

  /** Encodes the rows and stores the file under `key` (built by the caller). */
  async write(
    store: ObjectStore,
    key: string,
    request: SstWriteRequest,
    putOptions?: PutOptions,
  ): Promise<SstMeta> {
    const { bytes, meta } = await this.encode(request);
    await store.put(key, bytes, putOptions);
    return meta;
  }
}

/** Encodes an SST with a one-off writer (see SstWriter.encode). */
export function encodeSst(request: SstWriteRequest, options?: SstWriterOptions): Promise<EncodedSst> {
  return new SstWriter(options).encode(request);
}

/** Encodes an SST and puts it under `key` (see SstWriter.write). */
export function writeSst(
  store: ObjectStore,
  key: string,
  request: SstWriteRequest,
  options?: SstWriterOptions & { readonly put?: PutOptions },
): Promise<SstMeta> {
  return new SstWriter(options).write(store, key, request, options?.put);
}

interface PreparedSst {
  readonly columns: readonly ArrowColumnBuffers[];
  readonly settings: ParquetEncodeSettings;
  readonly meta: Omit<SstMeta, "fileSize" | "crc32c">;
}

/** Rows checked per step of the primary-key order check. */
const ORDER_CHECK_STEP_ROWS = 65_536;

/**
 * Everything before Parquet encoding; runs in the calling thread. Each step handles one column,
 * a few row groups or one slice of rows, and the event loop gets a turn whenever a stretch of steps
 * has taken longer than STEP_BUDGET_MS, so a large flush does not hold up writes and queries.
 */
async function prepareSst(request: SstWriteRequest, forTransfer: boolean): Promise<PreparedSst> {
  const { schema, table } = request;
  const pause = new EventLoopTurns(STEP_BUDGET_MS);
  const compression: SstCompression = request.options?.compression ?? DEFAULT_TABLE_OPTIONS.compression;
  const rowsPerGroup = request.options?.numRowsPerRowGroup ?? DEFAULT_TABLE_OPTIONS.numRowsPerRowGroup;
  if (!Number.isInteger(rowsPerGroup) || rowsPerGroup < 1) {
    throw new SstInputError(`numRowsPerRowGroup must be a positive integer, got ${rowsPerGroup}`, { table });
  }
  if (!Number.isSafeInteger(request.maxSequence)) {
    throw new SstInputError(`maxSequence must be an integer, got ${request.maxSequence}`, { table });
  }
  const rows = await combineBatches(schema, request.batches, table, pause);
  if (rows.numRows === 0) throw new SstInputError("an SST needs at least one row", { table });
  for (const c of schema.columns) {
    const column = rows.columns[rows.names.indexOf(c.name)] as Column;
    if (!c.nullable && column.validity !== null) {
      const row = column.validity.indexOf(0);
      if (row >= 0)
        throw new SstInputError("null in a column that cannot be null", { table, column: c.name, row });
    }
  }

  const checkOrder = primaryKeyOrderChecker(schema, rows, table);
  for (let from = 0; from < rows.numRows; from += ORDER_CHECK_STEP_ROWS) {
    checkOrder(from, Math.min(from + ORDER_CHECK_STEP_ROWS, rows.numRows));
    await pause.maybe();
  }

  const statsOf = rowGroupStatsBuilder(schema, rows);
  const rowGroups: RowGroupMeta[] = [];
  let min = Infinity;
  let max = -Infinity;
  for (let start = 0; start < rows.numRows; start += rowsPerGroup) {
    const group = statsOf(start, Math.min(start + rowsPerGroup, rows.numRows));
    rowGroups.push(group);
    min = Math.min(min, group.timeRange.min);
    max = Math.max(max, group.timeRange.max);
    await pause.maybe();
  }
  const meta = {
    formatVersion: SST_FORMAT_VERSION,
    rowCount: rows.numRows,
    timeRange: { min, max },
    maxSequence: request.maxSequence,
    schemaVersion: schema.version,
    primaryKey: [...schema.primaryKey],
    compression,
    columns: schema.columns.map((c) => ({ name: c.name, type: c.type, isTag: c.isTag })),
    rowGroups,
  };

  // A worker gets the buffers by transfer, so it must own them: the copies of borrowed arrays are
  // made here, a column at a time, rather than in one block when the job is posted. Arrays the
  // caller handed over are transferred as they are.
  const columns: ArrowColumnBuffers[] = [];
  for (const [i, c] of schema.columns.entries()) {
    const spec = { name: c.name, type: c.type, nullable: c.nullable, dictionary: c.isTag };
    let buffers = arrowColumnBuffers(spec, rows.columns[i] as Column, rows.numRows);
    if (request.handOverArrays === true && buffers.borrowed) buffers = { ...buffers, borrowed: false };
    columns.push(forTransfer ? ownColumn(buffers) : buffers);
    await pause.maybe();
  }

  const settings: ParquetEncodeSettings = {
    compression,
    maxRowGroupSize: rowsPerGroup,
    metaJson: embeddedMetaJson(meta),
    columns: schema.columns.map((c) => parquetColumnSettings(schema, c.name, c.type)),
  };
  return { columns, settings, meta };
}

/** Longest stretch of preparation work between two turns of the event loop. */
const STEP_BUDGET_MS = 10;

/** Gives the event loop a turn once the work since the last turn has run for `budgetMs`. */
export class EventLoopTurns {
  readonly #budgetMs: number;
  #since = performance.now();

  constructor(budgetMs: number) {
    this.#budgetMs = budgetMs;
  }

  async maybe(): Promise<void> {
    if (performance.now() - this.#since < this.#budgetMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#since = performance.now();
  }
}

/**
 * Per-column Parquet layout. Timestamps and integer key columns are sorted or nearly so: delta
 * encoding shrinks them to a few bits per row. Floating-point values rarely repeat, so a dictionary
 * is wasted work; byte-stream-split groups their exponent bytes, which compresses better.
 * Parquet statistics are written for every column except strings: parquet-wasm computes string
 * min/max per value, which costs about a third of the encoding time of TAG columns, and SstMeta
 * already carries the TAG statistics our pruning uses.
 */
function parquetColumnSettings(schema: TableSchema, name: string, type: DataType): ParquetColumnSettings {
  const isKey = schema.primaryKey.includes(name);
  if (type === DataType.Timestamp) {
    return { name, dictionary: false, encoding: "DELTA_BINARY_PACKED", statistics: true };
  }
  if (isKey && (type === DataType.Int64 || type === DataType.UInt64 || type === DataType.Int32)) {
    return { name, dictionary: false, encoding: "DELTA_BINARY_PACKED", statistics: true };
  }
  if (type === DataType.Double || type === DataType.Float) {
    return { name, dictionary: false, encoding: "BYTE_STREAM_SPLIT", statistics: true };
  }
  return { name, dictionary: true, statistics: type !== DataType.String };
}

/** The batches as one batch laid out as the schema (schema column order), checked against it. */
async function combineBatches(
  schema: TableSchema,
  batches: readonly ColumnBatch[],
  table: string | undefined,
  pause: EventLoopTurns,
): Promise<{ names: readonly string[]; columns: Column[]; numRows: number }> {
  const aligned: ColumnBatch[] = [];
  for (const batch of batches) {
    if (batch.numRows === 0) continue;
    const seen = new Set<string>();
    batch.names.forEach((name, i) => {
      const declared = schema.column(name);
      if (declared === undefined)
        throw new SstInputError("column is not in the schema", { table, column: name });
      if (seen.has(name)) throw new SstInputError("column appears twice in a batch", { table, column: name });
      seen.add(name);
      const column = batch.columns[i] as Column;
      if (column.type !== declared.type) {
        throw new SstInputError(`column holds ${column.type}, the schema says ${declared.type}`, {
          table,
          column: name,
        });
      }
      if (
        column.values.length < batch.numRows ||
        (column.validity?.length ?? batch.numRows) < batch.numRows
      ) {
        throw new SstInputError(`column has fewer than ${batch.numRows} values`, { table, column: name });
      }
    });
    const trimmed = { ...batch, columns: batch.columns.map((c) => trimColumn(c, batch.numRows)) };
    aligned.push(alignToSchema(trimmed, schema));
  }
  const names = schema.columns.map((c) => c.name);
  const columns: Column[] = [];
  for (const [i, c] of schema.columns.entries()) {
    columns.push(
      concatColumns(
        c.type,
        aligned.map((b) => b.columns[i] as Column),
      ),
    );
    await pause.maybe();
  }
  let numRows = 0;
  for (const b of aligned) numRows += b.numRows;
  return { names, columns, numRows };
}

/** The first `n` rows of a column whose arrays may be longer (capacity beyond the batch). */
function trimColumn(column: Column, n: number): Column {
  const v = column.values;
  const validity =
    column.validity === null || column.validity.length === n
      ? column.validity
      : column.validity.subarray(0, n);
  if (v.length === n) return validity === column.validity ? column : { ...column, validity };
  const values = Array.isArray(v) ? v.slice(0, n) : v.subarray(0, n);
  return { type: column.type, values, validity };
}
