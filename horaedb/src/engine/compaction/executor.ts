import type { ColumnBatch } from "../../batch/column-batch.js";
import {
  ManifestConflictError,
  ManifestEditError,
  ManifestOp,
  type SstFileEntry,
} from "../../manifest/index.js";
import type { ObjectStore } from "../../object-store/object-store.js";
import type { DecodedColumnCache } from "../../sst/decoded-cache.js";
import { readSst, type SstMeta, type SstWriter } from "../../sst/index.js";
import { EventLoopTurns } from "../../sst/writer.js";
import type { TableSchema } from "../../table/schema.js";
import { DecodedCacheFill } from "../decoded-cache-fill.js";
import type { StorageLayout } from "../layout.js";
import { filterRows, type TimeRange } from "../row-filter.js";
import type { Table } from "../table.js";
import { CompactionError } from "./errors.js";
import { mergeSortedInputs } from "./merge.js";
import type { CompactionJob } from "./picker.js";
import { expiredBefore } from "./ttl.js";

export interface CompactionExecutorOptions {
  /**
   * Largest job, in input rows; larger jobs are refused (default 1,000,000). Inputs are streamed,
   * one decoded batch each, but the merged rows are all held until the output is encoded (the
   * writer and the encoder then make more copies), so this bounds a job's memory: see
   * `estimateJobMemory` (860-880 bytes per TSBS cpu row at the peak), which the scheduler holds
   * against its memory budget.
   */
  readonly maxInputRows: number;
  /** An output with more rows is split by time into files of about this many rows (default 1,000,000). */
  readonly maxOutputFileRows: number;
}

/** Longest stretch of copying output rows for the decoded cache between two turns of the event loop. */
const COPY_BUDGET_MS = 10;

export const DEFAULT_EXECUTOR_OPTIONS: CompactionExecutorOptions = Object.freeze({
  maxInputRows: 1_000_000,
  maxOutputFileRows: 1_000_000,
});

export interface CompactionContext {
  readonly store: ObjectStore;
  readonly layout: StorageLayout;
  readonly sstWriter: SstWriter;
  readonly options: CompactionExecutorOptions;
  /** Clock for the TTL cutoff, in ms. */
  readonly now: () => number;
  /**
   * Called with the input files as soon as the edit removing them is durable (in the same turn of
   * the event loop), so that they are deleted once no scan reads them.
   */
  readonly retire: (files: readonly SstFileEntry[]) => void;
  /** When set, the output files go in this cache once committed (see DecodedCacheFill). */
  readonly decodedCache?: DecodedColumnCache;
  /** Stops the job at the next step before its commit (the engine is closing). */
  readonly signal?: AbortSignal;
}

/** What one job did, for the log and metrics. */
export interface CompactionJobResult {
  readonly table: string;
  readonly kind: CompactionJob["kind"];
  /** Time window of a merge (start = window x segment duration); undefined for an expiry. */
  readonly window: number | undefined;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** Rows of the input files. */
  readonly rowsIn: number;
  /** Rows written: inputs minus duplicates (OVERWRITE) minus rows past the TTL. */
  readonly rowsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly ms: number;
}

/** Rows per batch read from an input, and per output batch of the merge (one event-loop turn each). */
const READ_BATCH_ROWS = 8192;
const OUTPUT_BATCH_ROWS = 16384;

/**
 * Runs one job on a table: for a merge, reads the inputs, merges them by primary key (OVERWRITE:
 * the row of the input with the higher maxSequence wins; APPEND: every row stays), drops rows past
 * the TTL, writes the result as new SSTs, and commits one manifest edit adding the outputs and
 * removing the inputs; for an expiry, commits an edit that only removes the inputs.
 *
 * Until the edit is durable the inputs stay listed and readable, so a crash or an error at any step
 * changes nothing a read sees (written outputs are deleted, or left as orphans for the next open).
 * The caller must run at most one job per table at a time.
 */
export async function runCompactionJob(
  table: Table,
  job: CompactionJob,
  ctx: CompactionContext,
): Promise<CompactionJobResult> {
  const started = performance.now();
  const inputs = job.inputs;
  const inputIds = inputs.map((f) => f.fileId);
  const fail = (kind: CompactionError["kind"], message: string) =>
    new CompactionError(kind, table.qualifiedName, inputIds, message);
  const checkRunnable = () => {
    if (ctx.signal?.aborted === true) throw fail("aborted", "the engine is closing");
    if (table.dropped) throw fail("inputs_changed", "the table was dropped");
    const listed = table.manifest.state.ssts;
    const gone = inputs.find((f) => listed.get(f.fileId)?.key !== f.key);
    if (gone !== undefined) throw fail("inputs_changed", `file ${gone.fileId} is no longer in the manifest`);
  };
  const rowsIn = inputs.reduce((sum, f) => sum + f.rowCount, 0);
  const bytesIn = inputs.reduce((sum, f) => sum + f.size, 0);
  const result = (outputs: readonly SstFileEntry[], rowsOut: number): CompactionJobResult => ({
    table: table.qualifiedName,
    kind: job.kind,
    window: job.kind === "merge" ? job.window : undefined,
    inputs: inputIds,
    outputs: outputs.map((f) => f.fileId),
    rowsIn,
    rowsOut,
    bytesIn,
    bytesOut: outputs.reduce((sum, f) => sum + f.size, 0),
    ms: Math.round(performance.now() - started),
  });

  checkRunnable();
  if (job.kind === "expire") {
    await table.manifest.commit(inputs.map((f) => ManifestOp.removeSst(f.fileId)));
    ctx.retire(inputs);
    return result([], 0);
  }
  if (rowsIn > ctx.options.maxInputRows) {
    throw fail("too_large", `${rowsIn} input rows exceed the limit of ${ctx.options.maxInputRows}`);
  }

  const schema = table.schema;
  const options = table.options;
  const merged = await mergeInputs(table, schema, inputs, ctx, checkRunnable);
  const parts = splitByTime(
    merged.batches,
    schema.timestampColumn,
    merged.rows,
    ctx.options.maxOutputFileRows,
  );
  checkRunnable();

  const outputs: SstFileEntry[] = [];
  const maxSequence = Math.max(...inputs.map((f) => f.maxSequence));
  const turns = new EventLoopTurns(COPY_BUDGET_MS);
  const cacheFill =
    ctx.decodedCache === undefined
      ? undefined
      : new DecodedCacheFill(
          ctx.decodedCache,
          parts.map((batches) => batches.reduce((sum, b) => sum + b.numRows, 0)),
          schema.columns.length,
          options.numRowsPerRowGroup,
        );
  try {
    if (parts.length > 0) {
      const firstFileId = await table.manifest.allocateFileIds(parts.length);
      for (const [i, batches] of parts.entries()) {
        checkRunnable();
        const fileId = firstFileId + i;
        const key = ctx.layout.sstKey(table.identity.id, fileId);
        await cacheFill?.addBatches(i, schema, batches, turns);
        const meta = await ctx.sstWriter.write(ctx.store, key, {
          schema,
          batches,
          options,
          maxSequence,
          table: table.qualifiedName,
        });
        outputs.push({
          fileId,
          key,
          size: meta.fileSize,
          rowCount: meta.rowCount,
          timeRange: meta.timeRange,
          maxSequence: meta.maxSequence,
          schemaVersion: meta.schemaVersion,
          meta,
        });
      }
    }
    checkRunnable();
  } catch (error) {
    await deleteQuietly(ctx.store, outputs);
    throw error;
  }

  try {
    await table.manifest.commit([
      ...outputs.map((f) => ManifestOp.addSst(f)),
      ...inputs.map((f) => ManifestOp.removeSst(f.fileId)),
    ]);
  } catch (error) {
    // These two mean the edit was certainly not written; after any other error it may have been,
    // and the outputs must stay (an unreferenced one is removed as an orphan at the next open).
    if (error instanceof ManifestEditError || error instanceof ManifestConflictError) {
      await deleteQuietly(ctx.store, outputs);
    }
    throw error;
  }
  ctx.retire(inputs);
  cacheFill?.commit(outputs);
  return result(outputs, merged.rows);
}

/**
 * Reads the inputs side by side and merges them by primary key (see `mergeSortedInputs`): on equal
 * keys the input with the higher maxSequence wins (OVERWRITE) or every row stays (APPEND), exactly
 * as a scan merges overlapping files. Rows past the TTL are dropped on the way in.
 */
async function mergeInputs(
  table: Table,
  schema: TableSchema,
  inputs: readonly SstFileEntry[],
  ctx: CompactionContext,
  checkRunnable: () => void,
): Promise<{ batches: ColumnBatch[]; rows: number }> {
  const cutoff = expiredBefore(table.options, ctx.now());
  const live: TimeRange | undefined = cutoff === undefined ? undefined : { start: cutoff, end: Infinity };
  const columns = schema.columns.map((c) => c.name);
  async function* rowsOf(input: SstFileEntry): AsyncIterable<ColumnBatch> {
    checkRunnable();
    const scan = readSst(ctx.store, input.key, {
      meta: input.meta as SstMeta,
      projection: columns,
      schema,
      timeRange: live,
      batchSize: READ_BATCH_ROWS,
    });
    for await (const batch of scan) {
      yield live === undefined ? batch : filterRows(batch, schema.timestampColumn, live, undefined);
    }
  }
  const merged = mergeSortedInputs(
    schema,
    table.options.updateMode,
    inputs.map((input) => ({ batches: rowsOf(input), priority: input.maxSequence })),
    OUTPUT_BATCH_ROWS,
  );
  const batches: ColumnBatch[] = [];
  let rows = 0;
  for await (const batch of merged) {
    batches.push(batch);
    rows += batch.numRows;
  }
  checkRunnable();
  return { batches, rows };
}

/**
 * The sorted rows cut by time into at most ceil(rows / maxRows) parts of about equal size: part i
 * holds the rows with bounds[i-1] <= timestamp < bounds[i]. Parts have disjoint time ranges, so
 * files written from them never overlap one another (rows of one timestamp always stay together,
 * even past `maxRows`). Each part stays sorted by primary key.
 */
export function splitByTime(
  batches: readonly ColumnBatch[],
  timestampColumn: string,
  rows: number,
  maxRows: number,
): ColumnBatch[][] {
  if (rows === 0) return [];
  if (rows <= maxRows) return [[...batches]];
  const timestamps = new Float64Array(rows);
  let at = 0;
  for (const batch of batches) {
    const column = batch.columns[batch.names.indexOf(timestampColumn)];
    if (column === undefined) throw new RangeError(`column "${timestampColumn}" is not in the batch`);
    timestamps.set((column.values as Float64Array).subarray(0, batch.numRows), at);
    at += batch.numRows;
  }
  timestamps.sort();
  // Parts of `target` rows or a little more: a cut waits for the next new timestamp.
  const target = Math.ceil(rows / Math.ceil(rows / maxRows));
  const bounds: number[] = [];
  let inPart = 0;
  for (let i = 0; i < rows; i++) {
    const t = timestamps[i] as number;
    if (inPart >= target && t !== timestamps[i - 1]) {
      bounds.push(t);
      inPart = 0;
    }
    inPart++;
  }
  const edges = [-Infinity, ...bounds, Infinity];
  const out: ColumnBatch[][] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const range = { start: edges[i] as number, end: edges[i + 1] as number };
    const part = batches
      .map((b) => filterRows(b, timestampColumn, range, undefined))
      .filter((b) => b.numRows > 0);
    if (part.length > 0) out.push(part);
  }
  return out;
}

async function deleteQuietly(store: ObjectStore, files: readonly SstFileEntry[]): Promise<void> {
  for (const file of files) {
    try {
      await store.delete(file.key);
    } catch {
      // Left for the orphan cleanup at the next open.
    }
  }
}
