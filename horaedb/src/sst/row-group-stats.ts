/**
 * What the writer checks and measures in the rows before encoding: primary-key order, and per row
 * group the row count, time range and min/max of the TAG and primary-key columns.
 */
import type { Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import { compareStrings } from "../memtable/key-lanes.js";
import { DataType } from "../table/data-type.js";
import type { TableSchema } from "../table/schema.js";
import { SstInputError } from "./errors.js";
import {
  MAX_DISTINCT_TAG_VALUES,
  MAX_TAG_BLOOM_VALUES,
  type ColumnStats,
  type RowGroupMeta,
  type StatValue,
} from "./sst-meta.js";
import { buildTagBloom } from "./tag-bloom.js";

/** Compares the values of two rows of one column: negative, zero or positive. */
type RowComparator = (a: number, b: number) => number;

/**
 * A comparator in the engine's sort order: numbers numerically, int64 signed, uint64 unsigned,
 * strings by code point (UTF-8 byte order), false before true. 64-bit integers are compared as
 * two 32-bit words, which avoids allocating a BigInt per read.
 */
function rowComparator(column: Column): RowComparator {
  const v = column.values;
  switch (column.type) {
    case DataType.Int64:
    case DataType.UInt64: {
      const typed = v as BigInt64Array | BigUint64Array;
      const lo = new Uint32Array(typed.buffer, typed.byteOffset, typed.length * 2);
      const hi =
        column.type === DataType.Int64
          ? new Int32Array(typed.buffer, typed.byteOffset, typed.length * 2)
          : lo;
      return (a, b) => {
        const ha = hi[2 * a + 1] as number;
        const hb = hi[2 * b + 1] as number;
        if (ha !== hb) return ha < hb ? -1 : 1;
        const la = lo[2 * a] as number;
        const lb = lo[2 * b] as number;
        return la === lb ? 0 : la < lb ? -1 : 1;
      };
    }
    case DataType.String: {
      const s = v as string[];
      return (a, b) => compareStrings(s[a] as string, s[b] as string);
    }
    case DataType.Varbinary:
      throw new SstInputError("varbinary columns have no order");
    default: {
      const n = v as Float64Array | Float32Array | Int32Array | Uint8Array;
      return (a, b) => {
        const x = n[a] as number;
        const y = n[b] as number;
        return x < y ? -1 : x > y ? 1 : 0;
      };
    }
  }
}

/**
 * A checker of primary-key order: `check(from, to)` throws SstInputError unless rows [from, to) are
 * each >= their predecessor by primary key (equal keys are allowed: APPEND tables keep duplicates).
 * Creating the checker throws if a primary-key column is missing or holds a null.
 */
export function primaryKeyOrderChecker(
  schema: TableSchema,
  batch: ColumnBatch,
  table?: string,
): (from: number, to: number) => void {
  const keyColumns = schema.primaryKey.map((name) => {
    const i = batch.names.indexOf(name);
    const column = batch.columns[i];
    if (column === undefined)
      throw new SstInputError("primary-key column is missing", { table, column: name });
    if (column.validity !== null) {
      const row = column.validity.subarray(0, batch.numRows).indexOf(0);
      if (row >= 0) throw new SstInputError("primary-key value is null", { table, column: name, row });
    }
    return rowComparator(column);
  });
  const width = keyColumns.length;
  return (from, to) => {
    for (let row = Math.max(1, from); row < to; row++) {
      for (let k = 0; k < width; k++) {
        const c = (keyColumns[k] as RowComparator)(row - 1, row);
        if (c < 0) break;
        if (c > 0) {
          throw new SstInputError("rows are not sorted by primary key", {
            table,
            column: schema.primaryKey[k],
            row,
          });
        }
      }
    }
  };
}

/** Computes the statistics of rows [start, end) of the batch as one row group. */
export function rowGroupStatsBuilder(
  schema: TableSchema,
  batch: ColumnBatch,
): (start: number, end: number) => RowGroupMeta {
  // The timestamp key's min/max is the row group's timeRange; it is not repeated under columns.
  const statColumns = schema.columns
    .filter((c) => c.name !== schema.timestampColumn && (c.isTag || schema.primaryKey.includes(c.name)))
    .map((c) => ({
      name: c.name,
      isTag: c.isTag,
      column: batch.columns[batch.names.indexOf(c.name)] as Column,
    }));
  const timestamps = batch.columns[batch.names.indexOf(schema.timestampColumn)] as Column;
  return (start, end) => {
    const time = numericStats(timestamps, start, end);
    if (time === undefined)
      throw new SstInputError("row group without timestamps", { column: schema.timestampColumn });
    const columns: Record<string, ColumnStats> = {};
    for (const { name, isTag, column } of statColumns) {
      const stats = columnStats(column, start, end, isTag);
      if (stats !== undefined) Object.defineProperty(columns, name, { value: stats, enumerable: true });
    }
    return { numRows: end - start, timeRange: { min: time.min, max: time.max }, columns };
  };
}

/** Stats of rows [start, end); undefined when they cannot be expressed (infinite doubles). */
function columnStats(column: Column, start: number, end: number, isTag: boolean): ColumnStats | undefined {
  switch (column.type) {
    case DataType.String:
      return stringStats(column, start, end, isTag);
    case DataType.Int64:
    case DataType.UInt64:
      return bigIntStats(column, start, end);
    case DataType.Boolean: {
      const s = numericStats(column, start, end);
      return withNulls(
        s === undefined ? null : s.min === 1,
        s === undefined ? null : s.max === 1,
        column,
        start,
        end,
      );
    }
    case DataType.Varbinary:
      return undefined;
    default: {
      const s = numericStats(column, start, end);
      if (s !== undefined && (!Number.isFinite(s.min) || !Number.isFinite(s.max))) return undefined;
      return withNulls(s?.min ?? null, s?.max ?? null, column, start, end);
    }
  }
}

/** Stats with `nullCount` only when there are nulls, which keeps the manifest's copy small. */
function withNulls(
  min: StatValue | null,
  max: StatValue | null,
  column: Column,
  start: number,
  end: number,
): ColumnStats {
  const nulls = nullCount(column, start, end);
  return nulls === 0 ? { min, max } : { min, max, nullCount: nulls };
}

function nullCount(column: Column, start: number, end: number): number {
  const validity = column.validity;
  if (validity === null) return 0;
  let nulls = 0;
  for (let i = start; i < end; i++) if (validity[i] === 0) nulls++;
  return nulls;
}

/** Min and max of the non-null, non-NaN values; undefined when there are none. */
function numericStats(column: Column, start: number, end: number): { min: number; max: number } | undefined {
  const v = column.values as Float64Array | Float32Array | Int32Array | Uint8Array;
  const validity = column.validity;
  let min = Infinity;
  let max = -Infinity;
  let seen = false;
  for (let i = start; i < end; i++) {
    if (validity !== null && validity[i] === 0) continue;
    const x = v[i] as number;
    if (x !== x) continue; // NaN has no place in an order
    seen = true;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return seen ? { min, max } : undefined;
}

function bigIntStats(column: Column, start: number, end: number): ColumnStats {
  const compare = rowComparator(column);
  const validity = column.validity;
  let minRow = -1;
  let maxRow = -1;
  for (let i = start; i < end; i++) {
    if (validity !== null && validity[i] === 0) continue;
    if (minRow < 0 || compare(i, minRow) < 0) minRow = i;
    if (maxRow < 0 || compare(i, maxRow) > 0) maxRow = i;
  }
  const v = column.values as BigInt64Array | BigUint64Array;
  const at = (row: number): StatValue | null => (row < 0 ? null : (v[row] as bigint).toString());
  return withNulls(at(minRow), at(maxRow), column, start, end);
}

/** Rows sorted by series repeat values in runs, so only a change of value costs a comparison. */
function stringStats(column: Column, start: number, end: number, isTag: boolean): ColumnStats {
  const v = column.values as string[];
  const validity = column.validity;
  let min: string | null = null;
  let max: string | null = null;
  let previous: string | undefined;
  let nulls = 0;
  let distinct: Set<string> | undefined = isTag ? new Set() : undefined;
  for (let i = start; i < end; i++) {
    if (validity !== null && validity[i] === 0) {
      nulls++;
      continue;
    }
    const s = v[i] as string;
    if (s === previous) continue;
    previous = s;
    if (min === null || compareStrings(s, min) < 0) min = s;
    if (max === null || compareStrings(s, max) > 0) max = s;
    if (distinct !== undefined) {
      distinct.add(s);
      if (distinct.size > MAX_TAG_BLOOM_VALUES) distinct = undefined;
    }
  }
  const stats: ColumnStats = nulls === 0 ? { min, max } : { min, max, nullCount: nulls };
  // One value is already said by min == max.
  if (distinct === undefined || distinct.size <= 1) return stats;
  if (distinct.size <= MAX_DISTINCT_TAG_VALUES) {
    return { ...stats, distinct: [...distinct].sort(compareStrings) };
  }
  return { ...stats, bloom: buildTagBloom(distinct, distinct.size) };
}
