/**
 * Row-group pruning by SstMeta statistics alone (no file access): which row groups may hold rows in
 * a time range whose tag values are among the wanted ones.
 */
import { compareStrings } from "../memtable/key-lanes.js";
import type { TimeRange } from "../memtable/snapshot.js";
import type { ColumnStats, RowGroupMeta, SstMeta } from "./sst-meta.js";
import { tagBloomMayContain } from "./tag-bloom.js";

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
  const checks = tagChecksOf(meta, options.tagFilter);
  if (checks === undefined || !fileMayMatch(meta, options)) return selected;
  // The filter is resolved against the file's columns once, not once per row group.
  const { timeRange } = options;
  const groups = meta.rowGroups;
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i] as RowGroupMeta;
    if (timeRange !== undefined && !overlaps(group.timeRange, timeRange)) continue;
    if (groupMayHold(group, checks)) selected.push(i);
  }
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
  const checks = tagChecksOf(meta, options.tagFilter);
  return checks !== undefined && groupMayHold(group, checks);
}

/** A filtered TAG column whose row-group statistics can prune, and the values wanted of it. */
interface TagCheck {
  readonly column: string;
  readonly wanted: readonly string[];
}

/**
 * The filter's conditions that row-group statistics can decide; undefined when no row of the file
 * can match (a condition wants no value, or names a column the file lacks).
 */
function tagChecksOf(meta: SstMeta, tagFilter: TagFilter | undefined): TagCheck[] | undefined {
  const checks: TagCheck[] = [];
  if (tagFilter === undefined) return checks;
  for (const [column, wanted] of Object.entries(tagFilter)) {
    if (wanted.length === 0) return undefined;
    const declared = meta.columns.find((c) => c.name === column);
    if (declared === undefined) return undefined;
    // Only TAG statistics are strings compared like the filter's values; others cannot prune.
    if (declared.isTag) checks.push({ column, wanted });
  }
  return checks;
}

function groupMayHold(group: RowGroupMeta, checks: readonly TagCheck[]): boolean {
  for (const { column, wanted } of checks) {
    if (!Object.hasOwn(group.columns, column)) continue;
    const stats = group.columns[column] as ColumnStats;
    let any = false;
    for (const value of wanted) {
      if (mayHold(stats, value)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
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
  if (stats.distinct !== undefined) return stats.distinct.includes(value);
  return stats.bloom === undefined || tagBloomMayContain(stats.bloom, value);
}
