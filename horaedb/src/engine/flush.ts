import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { ColumnBatch } from "../batch/column-batch.js";
import { ManifestOp, type SstFileEntry } from "../manifest/index.js";
import type { Memtable } from "../memtable/index.js";
import type { ObjectStore } from "../object-store/object-store.js";
import type { SstWriter } from "../sst/index.js";
import type { StorageLayout } from "./layout.js";
import type { Table } from "./table.js";

export interface FlushContext {
  readonly store: ObjectStore;
  readonly layout: StorageLayout;
  readonly sstWriter: SstWriter;
}

export interface FlushedMemtable {
  readonly rows: number;
  readonly files: readonly SstFileEntry[];
  readonly flushedSequence: number;
}

/** Rows gathered per batch while reading a memtable out for a flush. */
const FLUSH_BATCH_ROWS = 65536;
/** SSTs of one flush being encoded at once (the encoder pool queues what its workers cannot take). */
const ENCODES_IN_FLIGHT = 2;

/**
 * Writes one frozen memtable as SSTs, one per time segment, then records them and the new flushed
 * sequence in one manifest edit. Until that edit is durable the memtable stays readable and the WAL
 * keeps its rows, so a crash at any point loses nothing (at worst an SST object is left unreferenced).
 */
export async function flushMemtable(
  table: Table,
  frozen: Memtable,
  ctx: FlushContext,
): Promise<FlushedMemtable> {
  const maxSequence = frozen.maxSequence;
  if (maxSequence === undefined) return { rows: 0, files: [], flushedSequence: table.flushedSequence };
  const snapshot = frozen.snapshot(table.schema);
  const segmentMs = table.options.segmentDurationMs;
  const segments = segmentStarts(snapshot.chunks, segmentMs);
  const firstFileId = await table.manifest.allocateFileIds(segments.length);

  // Segments are pipelined: the next one is read out of the memtable (main thread) while the
  // previous one is encoded (worker thread); at most ENCODES_IN_FLIGHT wait for encoding.
  const pending: Array<Promise<SstFileEntry>> = [];
  let rows = 0;
  for (const [i, start] of segments.entries()) {
    const batches: ColumnBatch[] = [];
    const range = { start, end: start + segmentMs };
    for (const batch of snapshot.sortedBatches({ timeRange: range, batchSize: FLUSH_BATCH_ROWS })) {
      batches.push(batch);
      // Reading a large memtable out takes a while; let writes and queries run in between.
      await yieldToEventLoop();
    }
    const segmentRows = batches.reduce((sum, b) => sum + b.numRows, 0);
    if (segmentRows === 0) continue;
    rows += segmentRows;
    const fileId = firstFileId + i;
    const key = ctx.layout.sstKey(table.identity.id, fileId);
    const request = {
      schema: table.schema,
      batches,
      options: table.options,
      maxSequence,
      table: table.qualifiedName,
    };
    const encoded = ctx.sstWriter.write(ctx.store, key, request).then((meta): SstFileEntry => ({
      fileId,
      key,
      size: meta.fileSize,
      rowCount: meta.rowCount,
      timeRange: meta.timeRange,
      maxSequence: meta.maxSequence,
      schemaVersion: meta.schemaVersion,
      meta,
    }));
    // Observed here so a failure is not an unhandled rejection before Promise.all sees it.
    void encoded.catch(() => undefined);
    pending.push(encoded);
    if (pending.length >= ENCODES_IN_FLIGHT) await pending[pending.length - ENCODES_IN_FLIGHT];
  }
  const files = await Promise.all(pending);
  // The memtable is retired in the same synchronous step that installs the new manifest state, so no
  // scan can see its rows both there and in the new SSTs (APPEND tables would show them twice).
  await table.manifest.commit(
    [...files.map((f) => ManifestOp.addSst(f)), ManifestOp.setFlushedSequence(maxSequence)],
    () => table.memtables.removeFlushed(frozen),
  );
  return { rows, files, flushedSequence: maxSequence };
}

/** Start times of the time segments that hold at least one row, ascending. */
function segmentStarts(
  chunks: ReadonlyArray<{
    readonly batch: ColumnBatch;
    readonly minTimestamp: number;
    readonly maxTimestamp: number;
  }>,
  segmentMs: number,
): number[] {
  const starts = new Set<number>();
  for (const chunk of chunks) {
    const first = Math.floor(chunk.minTimestamp / segmentMs);
    const last = Math.floor(chunk.maxTimestamp / segmentMs);
    // Chunks are usually within one or two segments; only look at rows when they span more.
    if (last - first <= 1) {
      starts.add(first * segmentMs);
      starts.add(last * segmentMs);
      continue;
    }
    const ts = timestampsOf(chunk.batch);
    for (let r = 0; r < ts.length; r++) starts.add(Math.floor((ts[r] as number) / segmentMs) * segmentMs);
  }
  return [...starts].sort((a, b) => a - b);
}

function timestampsOf(batch: ColumnBatch): Float64Array {
  const column = batch.columns.find((c) => c.type === "timestamp");
  return (column?.values as Float64Array | undefined) ?? new Float64Array(0);
}
