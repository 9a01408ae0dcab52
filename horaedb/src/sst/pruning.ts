/**
 * Row-group pruning by SstMeta statistics alone (no file access): which row groups may hold rows in
 * a time range whose tag values are among the wanted ones.
 */
import { compareStrings } from "../memtable/key-lanes.js";
import type { TimeRange } from "../memtable/snapshot.js";
import type { ColumnStats, RowGroupMeta, SstMeta } from "./sst-meta.js";

/**
 * Wanted values per TAG column: a row matches when, for every listed column, its value is one of
 * the listed values (one value is equality, several are IN). Null never matches.
 */
export type TagFilter = Readonly<Record<string, readonly string[]>>;

export interface SstPruneOptions {
  /** Rows with `start <= timestamp < end`. */
  readonly timeRange?: TimeRange | undefined;
  readonly tagFilter?: TagFilter | undefined;
}

/** Indices of the row groups that may hold matching rows, ascending. */
export function selectRowGroups(meta: SstMeta, options: SstPruneOptions): number[] {
  const selected: number[] = [];
  if (!fileMayMatch(meta, options)) return selected;
  meta.rowGroups.forEach((group, i) => {
    if (rowGroupMayMatch(meta, group, options)) selected.push(i);
  });
  return selected;
}

/** False when no row of the file can match (time range, or a filtered tag the file lacks). */
export function fileMayMatch(meta: SstMeta, options: SstPruneOptions): boolean {
  if (options.timeRange !== undefined && !overlaps(meta.timeRange, options.timeRange)) return false;
  for (const [column, wanted] of Object.entries(options.tagFilter ?? {})) {
    if (wanted.length === 0) return false;
    // A column added after this file was written is null in every row of it.
    if (!meta.columns.some((c) => c.name === column)) return false;
  }
  return true;
}

export function rowGroupMayMatch(meta: SstMeta, group: RowGroupMeta, options: SstPruneOptions): boolean {
  if (options.timeRange !== undefined && !overlaps(group.timeRange, options.timeRange)) return false;
  for (const [column, wanted] of Object.entries(options.tagFilter ?? {})) {
    if (wanted.length === 0) return false;
    const declared = meta.columns.find((c) => c.name === column);
    if (declared === undefined) return false;
    // Only TAG statistics are strings compared like the filter's values; others cannot prune.
    if (!declared.isTag || !Object.hasOwn(group.columns, column)) continue;
    if (!wanted.some((value) => mayHold(group.columns[column] as ColumnStats, value))) return false;
  }
  return true;
}

function overlaps(file: { readonly min: number; readonly max: number }, wanted: TimeRange): boolean {
  return file.min < wanted.end && file.max >= wanted.start;
}

function mayHold(stats: ColumnStats, value: string): boolean {
  const { min, max } = stats;
  if (typeof min !== "string" || typeof max !== "string") return false; // every value is null
  if (compareStrings(value, min) < 0 || compareStrings(value, max) > 0) return false;
  return stats.distinct === undefined || stats.distinct.includes(value);
}
