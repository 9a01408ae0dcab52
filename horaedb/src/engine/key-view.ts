/**
 * Primary-key values of one batch in the form comparisons read fastest, and their order: the
 * engine's (the memtable's sort), numbers ascending (NaN last, all NaNs equal, -0 equal to 0), int64
 * signed, uint64 unsigned, strings by code point (UTF-8 byte order), false before true. Shared by the
 * scan's merge of overlapping sources and the compaction merge, which must agree on it.
 */
import type { Column } from "../batch/column.js";
import { compareStrings } from "../memtable/index.js";
import { DataType } from "../table/data-type.js";

/** The values of one primary-key column of one batch. */
export type KeyView =
  | { readonly kind: "number"; readonly values: ArrayLike<number> }
  | { readonly kind: "int64"; readonly lo: Uint32Array; readonly hi: Int32Array | Uint32Array }
  | { readonly kind: "string"; readonly values: readonly string[] };

export function keyView(type: DataType, column: Column): KeyView {
  switch (type) {
    case DataType.Int64:
    case DataType.UInt64: {
      const typed = column.values as BigInt64Array | BigUint64Array;
      const lo = new Uint32Array(typed.buffer, typed.byteOffset, typed.length * 2);
      const hi =
        type === DataType.Int64 ? new Int32Array(typed.buffer, typed.byteOffset, typed.length * 2) : lo;
      return { kind: "int64", lo, hi };
    }
    case DataType.String:
      return { kind: "string", values: column.values as string[] };
    case DataType.Varbinary:
      throw new TypeError("varbinary columns cannot be part of a primary key");
    default:
      return { kind: "number", values: column.values as ArrayLike<number> };
  }
}

/** Compares row `ra` of one key column with row `rb` of the same column of another batch. */
export function compareKeyValues(a: KeyView, ra: number, b: KeyView, rb: number): number {
  switch (a.kind) {
    case "number": {
      const x = a.values[ra] as number;
      const y = (b as typeof a).values[rb] as number;
      if (x < y) return -1;
      if (x > y) return 1;
      if (x === y) return 0;
      // At least one NaN: NaNs sort last and equal one another.
      return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
    }
    case "int64": {
      // Little-endian words: the high word (signed for int64) at 2r + 1, the low one at 2r.
      const o = b as typeof a;
      const ha = a.hi[2 * ra + 1] as number;
      const hb = o.hi[2 * rb + 1] as number;
      if (ha !== hb) return ha < hb ? -1 : 1;
      const la = a.lo[2 * ra] as number;
      const lb = o.lo[2 * rb] as number;
      return la === lb ? 0 : la < lb ? -1 : 1;
    }
    case "string":
      return compareStrings(a.values[ra] as string, (b as typeof a).values[rb] as string);
  }
}
