import type { Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import { stringColumnFromCodes, stringDictionary } from "../batch/string-dictionary.js";
import { DataType } from "../table/data-type.js";
import { TSID_COLUMN } from "../table/schema.js";
import { ColumnGatherer, type RowLocations } from "./gather.js";
import { HIGH_WORD, LOW_WORD, WordPairTable, wordsOf } from "./key-lanes.js";

/**
 * The rows of `batch` grouped by tsid: the groups in the order their tsids first appear, each
 * group's rows in their order in the batch. `batch` itself when its rows already are so grouped
 * (or it has no tsid column).
 *
 * Writers usually send rows time-major (every series at one time, then the next time), so a
 * chunk kept as written spreads each series across all of it, and reading one series out of the
 * memtable touches a cache line per row and column. Grouped, one series' rows are contiguous.
 * Only rows of one tsid can share a key, and their order is kept, so which row of a key wins
 * deduplication (the later one) does not change.
 */
export function groupRowsBySeries(batch: ColumnBatch): ColumnBatch {
  const n = batch.numRows;
  const tsidAt = batch.names.indexOf(TSID_COLUMN);
  if (tsidAt < 0 || n < 3) return batch;
  const words = wordsOf(batch.columns[tsidAt]?.values as BigUint64Array);
  const table = new WordPairTable();
  const ids = new Uint32Array(n);
  let grouped = true;
  let last = -1;
  for (let r = 0; r < n; r++) {
    const known = table.size;
    const id = table.idOf(words[2 * r + HIGH_WORD] as number, words[2 * r + LOW_WORD] as number);
    // A tsid seen before, but not on the row just above: its rows are split.
    if (id !== last && id < known) grouped = false;
    ids[r] = id;
    last = id;
  }
  if (grouped) return batch;
  // A counting sort by id, stable within each id.
  const next = new Uint32Array(table.size);
  for (let r = 0; r < n; r++) {
    const id = ids[r] as number;
    next[id] = (next[id] as number) + 1;
  }
  let start = 0;
  for (let id = 0; id < next.length; id++) {
    const count = next[id] as number;
    next[id] = start;
    start += count;
  }
  const row = new Uint32Array(n);
  for (let r = 0; r < n; r++) {
    const id = ids[r] as number;
    const to = next[id] as number;
    row[to] = r;
    next[id] = to + 1;
  }
  const at = { chunk: new Uint32Array(n), row, count: n };
  const columns = batch.columns.map((column) =>
    column.type === DataType.String
      ? permuteStrings(column, at)
      : new ColumnGatherer(column.type, [column], [n]).gather(at),
  );
  return { names: batch.names, columns, numRows: n };
}

/**
 * A string column's rows at `at`, by way of its dictionary coding: the write path has coded it
 * already (for the tsid and the WAL), and the result carries the coding along, so the memory
 * accounting and later encodings do not code the rows again.
 */
function permuteStrings(column: Column, at: RowLocations): Column {
  const n = at.count;
  const dictionary = stringDictionary(column.values as string[], n);
  const codes = new Uint32Array(n);
  for (let i = 0; i < n; i++) codes[i] = dictionary.codes[at.row[i] as number] as number;
  let validity: Uint8Array | null = null;
  if (column.validity !== null) {
    validity = new Uint8Array(n);
    for (let i = 0; i < n; i++) validity[i] = column.validity[at.row[i] as number] as number;
  }
  return { type: DataType.String, values: stringColumnFromCodes(codes, dictionary.values), validity };
}
