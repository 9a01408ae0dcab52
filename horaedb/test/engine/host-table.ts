/**
 * The small table the scan tests write and read: tags host and region, timestamp ts, fields x
 * (double) and y (int64), any of region, x and y null.
 */
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import type { WriteRows } from "../../src/engine/write-validation.js";
import { DataType } from "../../src/table/data-type.js";
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
