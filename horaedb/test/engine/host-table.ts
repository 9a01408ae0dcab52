/**
 * The small table the scan tests write and read: tags host and region, timestamp ts, fields x
 * (double) and y (int64), any of region, x and y null.
 */
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import type { WriteRows } from "../../src/engine/write-validation.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";

export const COLUMNS = ["host", "region", "ts", "x", "y"] as const;

export interface Row {
  host: string;
  region: string | null;
  ts: number;
  x: number | null;
  y: bigint | null;
}

/** The table's schema, keyed by (tsid, ts) or by `primaryKey`. */
export function schemaOf(primaryKey?: string[]): TableSchema {
  return TableSchema.create({
    timestampColumn: "ts",
    ...(primaryKey === undefined ? {} : { primaryKey }),
    columns: [
      { name: "host", type: DataType.String, isTag: true },
      { name: "region", type: DataType.String, isTag: true },
      { name: "ts", type: DataType.Timestamp },
      { name: "x", type: DataType.Double },
      { name: "y", type: DataType.Int64 },
    ],
  });
}

/** A write of `rows`. */
export function writeRows(rows: readonly Row[]): WriteRows {
  const validity = (nulls: boolean[]) =>
    nulls.some((n) => n) ? Uint8Array.from(nulls, (n) => (n ? 0 : 1)) : null;
  const batch: ColumnBatch = {
    names: [...COLUMNS],
    columns: [
      { type: DataType.String, values: rows.map((r) => r.host), validity: null },
      {
        type: DataType.String,
        values: rows.map((r) => r.region ?? ""),
        validity: validity(rows.map((r) => r.region === null)),
      },
      { type: DataType.Timestamp, values: Float64Array.from(rows, (r) => r.ts), validity: null },
      {
        type: DataType.Double,
        values: Float64Array.from(rows, (r) => r.x ?? 0),
        validity: validity(rows.map((r) => r.x === null)),
      },
      {
        type: DataType.Int64,
        values: BigInt64Array.from(rows, (r) => r.y ?? 0n),
        validity: validity(rows.map((r) => r.y === null)),
      },
    ],
    numRows: rows.length,
  };
  return { batch, tagNames: new Set(["host", "region"]), timestampColumn: "ts" };
}

/** JSON with bigints kept apart from numbers, for comparing rows. */
export const text = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x));

/**
 * Applies a write of `rows` to `model`, what the table must hold: every row when `keyOf` is
 * undefined (APPEND), else each key's last row.
 */
export function applyRows(model: Row[], keyOf: ((r: Row) => string) | undefined, rows: readonly Row[]): void {
  if (keyOf === undefined) {
    model.push(...rows);
    return;
  }
  for (const row of rows) {
    const at = model.findIndex((r) => keyOf(r) === keyOf(row));
    if (at >= 0) model.splice(at, 1);
    model.push(row);
  }
}

/** last() of `columns` per group of `keys`, as the query engine computes it from rows in order. */
export function lastPerGroup(
  rows: readonly Row[],
  keys: readonly string[],
  columns: readonly string[],
): string[] {
  const groups = new Map<string, Map<string, { ts: number; value: CellValue }>>();
  for (const row of rows) {
    const key = text(keys.map((k) => row[k as keyof Row]));
    let best = groups.get(key);
    if (best === undefined) {
      best = new Map();
      groups.set(key, best);
    }
    for (const c of columns) {
      const v = row[c as keyof Row];
      const current = best.get(c);
      if (v !== null && (current === undefined || row.ts >= current.ts))
        best.set(c, { ts: row.ts, value: v });
    }
  }
  return [...groups].map(([key, best]) => text([key, columns.map((c) => best.get(c)?.value ?? null)])).sort();
}

/** Every subset of `items` (the empty one first). */
export function subsets<T>(items: readonly T[]): T[][] {
  return items.reduce<T[][]>((all, item) => [...all, ...all.map((s) => [...s, item])], [[]]);
}
