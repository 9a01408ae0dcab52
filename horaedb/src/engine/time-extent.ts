/**
 * The span of time a table's rows lie in, from what the engine knows without reading any file: the
 * memtables' smallest and largest timestamps and the time ranges of the SSTs (of their row groups,
 * when a tag filter rules some out). Queries that read the newest or oldest rows first start there
 * instead of at the ends of time.
 */
import type { SstFileEntry } from "../manifest/index.js";
import { fileMayMatch, rowGroupMayMatch } from "../sst/pruning.js";
import type { RowGroupMeta, SstMeta } from "../sst/sst-meta.js";
import type { TagFilter } from "./row-filter.js";

/** Where a table's rows may be: every row a scan can return has min <= timestamp <= max. */
export interface TimeExtent {
  /** Smallest and largest timestamp a row may have, both inclusive, ms. */
  readonly min: number;
  readonly max: number;
  /**
   * About how many rows with the filtered tags are stored over the extent (before overwrites are
   * resolved), to estimate how densely they lie in time: memtables count whole, an SST row group
   * counts its share of rows for the wanted values among the distinct values its statistics list.
   */
  readonly rows: number;
}

/** What the extent needs of a memtable. */
export interface MemtableTimes {
  readonly minTimestamp: number | undefined;
  readonly maxTimestamp: number | undefined;
  readonly numRows: number;
}

/** The parts of a table the extent is taken over, as one read view would see them. */
export interface TimeExtentView {
  readonly memtables: Iterable<MemtableTimes>;
  readonly ssts: Iterable<SstFileEntry>;
  /** TTL cutoff: rows with an earlier timestamp are hidden from scans. */
  readonly expiredBefore?: number | undefined;
}

/**
 * The extent of the rows a scan with `tagFilter` could return; undefined when there can be none
 * (no rows, all past the TTL, or no SST row group holding the filtered tags and no memtable rows).
 * Memtables count whole (they keep no tag statistics); SSTs count only the row groups whose tag
 * statistics may match.
 */
export function timeExtentOf(view: TimeExtentView, tagFilter?: TagFilter): TimeExtent | undefined {
  const floor = view.expiredBefore ?? -Infinity;
  let min = Infinity;
  let max = -Infinity;
  let rows = 0;
  const add = (from: number, to: number, count: number) => {
    if (to < floor || count === 0) return;
    min = Math.min(min, Math.max(from, floor));
    max = Math.max(max, to);
    rows += count;
  };
  for (const memtable of view.memtables) {
    if (memtable.minTimestamp === undefined || memtable.maxTimestamp === undefined) continue;
    add(memtable.minTimestamp, memtable.maxTimestamp, memtable.numRows);
  }
  const filtered = tagFilter !== undefined && Object.keys(tagFilter).length > 0;
  for (const sst of view.ssts) {
    if (!filtered) {
      add(sst.timeRange.min, sst.timeRange.max, sst.rowCount);
      continue;
    }
    const meta = sst.meta as SstMeta;
    if (!fileMayMatch(meta, { tagFilter })) continue;
    for (const group of meta.rowGroups) {
      if (rowGroupMayMatch(meta, group, { tagFilter }))
        add(group.timeRange.min, group.timeRange.max, matchingRows(group, tagFilter));
    }
  }
  return rows === 0 ? undefined : { min, max, rows };
}

/**
 * The rows of a row group that may match, estimated: for each filtered tag whose distinct values
 * the statistics list, the share of those values that are wanted (rows spread evenly over them).
 * At least a fraction of a row, so that a row group that may match always counts.
 */
function matchingRows(group: RowGroupMeta, tagFilter: TagFilter): number {
  let rows = group.numRows;
  for (const [column, wanted] of Object.entries(tagFilter)) {
    const stats = group.columns[column];
    const distinct = stats?.distinct;
    if (stats === undefined || distinct === undefined || distinct.length === 0) continue;
    const matching = wanted.filter((value) => distinct.includes(value)).length;
    rows = ((rows - (stats.nullCount ?? 0)) * matching) / distinct.length;
  }
  return Math.max(rows, Number.EPSILON);
}
