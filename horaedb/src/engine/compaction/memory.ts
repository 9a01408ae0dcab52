/**
 * How much memory a compaction job holds at its peak, estimated before it starts so the scheduler
 * can keep the jobs running at once within a budget.
 *
 * A merge holds: every input object, fetched whole while it is read; one decoded batch per input;
 * the merged rows, all of them, until the output is written; and while an output file is written,
 * its rows joined into one batch, laid out as Arrow buffers, serialised as an Arrow IPC stream for
 * the encoder, copied into the encoder's WebAssembly memory, and the encoded Parquet bytes.
 * Measured on TSBS cpu rows (22 columns), the process (encoder worker included) grows by 770-950
 * bytes per input row at the peak of a 400,000 to 1,000,000-row job; this estimate gives 860-880.
 */
import { DataType, fixedByteWidth } from "../../table/data-type.js";
import type { TableSchema } from "../../table/schema.js";
import type { CompactionJob } from "./picker.js";

/** Rows per batch a merge reads from each input (see executor.ts). */
const READ_BATCH_ROWS = 8192;

/** Bytes per row of a column held as a ColumnBatch (strings: the reference; TAG values are shared). */
function batchBytesPerRow(type: DataType, isTag: boolean): number {
  switch (type) {
    case DataType.String:
      // A field string is its own heap object (header and characters) besides the reference.
      return isTag ? 8 : 48;
    case DataType.Varbinary:
      return 80;
    default:
      return fixedByteWidth(type);
  }
}

/** Bytes per row of a column laid out in Arrow (TAG strings: a dictionary index). */
function arrowBytesPerRow(type: DataType, isTag: boolean): number {
  switch (type) {
    case DataType.String:
      return isTag ? 4 : 28;
    case DataType.Varbinary:
      return 36;
    case DataType.Boolean:
      return 1;
    default:
      return batchBytesPerRow(type, isTag);
  }
}

/** Estimated peak bytes of the job; 0 for a job that only removes files. */
export function estimateJobMemory(
  job: CompactionJob,
  schema: TableSchema,
  options: {
    readonly maxOutputFileRows: number;
    /** The most a job copies for the decoded cache (its capacity); 0 or absent when it is not filled. */
    readonly cacheFillBytes?: number;
  },
): number {
  if (job.kind === "expire") return 0;
  let rowsIn = 0;
  let bytesIn = 0;
  for (const file of job.inputs) {
    rowsIn += file.rowCount;
    bytesIn += file.size;
  }
  let batchRow = 0;
  let arrowRow = 0;
  for (const c of schema.columns) {
    batchRow += batchBytesPerRow(c.type, c.isTag);
    arrowRow += arrowBytesPerRow(c.type, c.isTag);
  }
  // Output files are written one after another, but the copies made for one are usually not yet
  // collected while the next is written: count two files' worth.
  const fileRows = Math.min(rowsIn, 2 * options.maxOutputFileRows);
  let readBatchRows = 0;
  for (const file of job.inputs) readBatchRows += Math.min(READ_BATCH_ROWS, file.rowCount);
  const reading = bytesIn + readBatchRows * batchRow;
  const merged = rowsIn * batchRow;
  // Joined rows, Arrow buffers, IPC stream, the encoder's copy; the output is about as large per
  // row as the inputs.
  const writing = fileRows * (batchRow + 3 * arrowRow) + (rowsIn === 0 ? 0 : (bytesIn * fileRows) / rowsIn);
  // The output rows copied for the decoded cache (DecodedCacheFill) are held until the commit.
  const cacheFill = Math.min(rowsIn * batchRow, options.cacheFillBytes ?? 0);
  return Math.ceil(reading + merged + writing + cacheFill);
}
