import type { Column } from "../batch/column.js";
import { ManifestOp, type SstFileEntry } from "../manifest/index.js";
import type { Memtable } from "../memtable/index.js";
import type { ObjectStore } from "../object-store/object-store.js";
import type { DecodedColumnCache } from "../sst/decoded-cache.js";
import { EventLoopTurns } from "../sst/writer.js";
import type { SstWriter } from "../sst/index.js";
import { expiredBefore } from "./compaction/ttl.js";
import { DecodedCacheFill } from "./decoded-cache-fill.js";
import type { StorageLayout } from "./layout.js";
import type { Table } from "./table.js";

export interface FlushContext {
  readonly store: ObjectStore;
  readonly layout: StorageLayout;
  readonly sstWriter: SstWriter;
  /**
   * Clock for the TTL cutoff, ms since the epoch: rows already expired by it are not written.
   * Without a clock every row is written (compaction drops the expired ones later).
   */
  readonly now?: () => number;
  /** When set, the SSTs written go in this cache once committed (see DecodedCacheFill). */
  readonly decodedCache?: DecodedColumnCache;
}

export interface FlushedMemtable {
  /** Rows written to SSTs (expired rows and, for OVERWRITE tables, overwritten ones are not). */
  readonly rows: number;
  readonly files: readonly SstFileEntry[];
  readonly flushedSequence: number;
}

/** Longest stretch of reading rows out of the memtable between two turns of the event loop. */
const READ_BUDGET_MS = 10;

/**
 * Writes one frozen memtable as SSTs, one per time segment, then records them and the new flushed
 * sequence in one manifest edit. Until that edit is durable the memtable stays readable and the WAL
 * keeps its rows, so a crash at any point loses nothing (at worst an SST object is left unreferenced).
 *
 * Rows already past the table's TTL are not written (scans hide them anyway); a memtable whose rows
 * have all expired writes no file, and its sequence is still recorded as flushed.
 */
export async function flushMemtable(
  table: Table,
  frozen: Memtable,
  ctx: FlushContext,
): Promise<FlushedMemtable> {
  const maxSequence = frozen.maxSequence;
  if (maxSequence === undefined) return { rows: 0, files: [], flushedSequence: table.flushedSequence };
  const schema = table.schema;
  // Read once: ALTER TABLE may change the options while the flush waits, and the row groups the
  // cache is filled with must be those of the files written.
  const options = table.options;
  const snapshot = frozen.snapshot(schema);
  const cutoff = ctx.now === undefined ? undefined : expiredBefore(options, ctx.now());
  const turns = new EventLoopTurns(READ_BUDGET_MS);
  // Sorting a large memtable takes a while; let writes and queries run in between its passes.
  await snapshot.sort(() => turns.maybe());
  // One pass over the sorted rows splits them by segment.
  const segments = snapshot.segments(options.segmentDurationMs, cutoff);
  const firstFileId = segments.length === 0 ? 0 : await table.manifest.allocateFileIds(segments.length);
  const names = schema.columns.map((c) => c.name);
  const readers = snapshot.columnReaders(names);
  // While the encoders work on earlier segments, the next one is read out here; one more segment
  // than there are encoders is kept ready, so no encoder waits for this thread.
  const inFlight = ctx.sstWriter.encodeParallelism + 1;
  const cacheFill =
    ctx.decodedCache === undefined
      ? undefined
      : new DecodedCacheFill(
          ctx.decodedCache,
          segments.map((s) => s.rows.count),
          names.length,
          options.numRowsPerRowGroup,
        );

  const pending: Array<Promise<SstFileEntry>> = [];
  let rows = 0;
  for (const [i, segment] of segments.entries()) {
    const numRows = segment.rows.count;
    // A column at a time, each into arrays of exactly the segment's rows: one batch, no copies
    // to join batches, and the arrays can go to the encoder worker as they are.
    const columns: Column[] = [];
    for (const [c, reader] of readers.entries()) {
      const column = reader.gather(segment.rows);
      columns.push(column);
      // Copied before the encoder takes the arrays over.
      cacheFill?.addColumn(i, names[c] as string, column, numRows);
      // Reading a large memtable out takes a while; let writes and queries run in between.
      await turns.maybe();
    }
    rows += numRows;
    const fileId = firstFileId + i;
    const key = ctx.layout.sstKey(table.identity.id, fileId);
    const request = {
      schema,
      batches: [{ names, columns, numRows }],
      options,
      maxSequence,
      table: table.qualifiedName,
      handOverArrays: true,
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
    if (pending.length >= inFlight) await pending[pending.length - inFlight];
  }
  const files = await Promise.all(pending);
  // The memtable is retired in the same synchronous step that installs the new manifest state, so no
  // scan can see its rows both there and in the new SSTs (APPEND tables would show them twice).
  await table.manifest.commit(
    [...files.map((f) => ManifestOp.addSst(f)), ManifestOp.setFlushedSequence(maxSequence)],
    () => table.memtables.removeFlushed(frozen),
  );
  cacheFill?.commit(files);
  return { rows, files, flushedSequence: maxSequence };
}
