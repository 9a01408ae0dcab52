import { DataType, fixedByteWidth, type CellValue } from "../table/data-type.js";
import { stringDictionary } from "./string-dictionary.js";

/**
 * The in-memory representation of one column of one batch. Numbers live in typed arrays so the hot
 * paths (WAL encoding, sorting, aggregation) never touch per-value objects:
 * timestamp/double -> Float64Array, float -> Float32Array, int32 -> Int32Array,
 * int64 -> BigInt64Array, uint64 -> BigUint64Array, boolean -> Uint8Array (0/1),
 * string -> string[], varbinary -> Uint8Array[].
 */
export type ColumnValues =
  | Float64Array
  | Float32Array
  | Int32Array
  | BigInt64Array
  | BigUint64Array
  | Uint8Array
  | string[]
  | Uint8Array[];

export interface Column {
  readonly type: DataType;
  readonly values: ColumnValues;
  /** 1 = value present, 0 = null; `null` when the column has no nulls at all. */
  readonly validity: Uint8Array | null;
}

/** Allocates the values array for `length` rows of `type` (zeroed; strings empty). */
export function allocateValues(type: DataType, length: number): ColumnValues {
  switch (type) {
    case DataType.Timestamp:
    case DataType.Double:
      return new Float64Array(length);
    case DataType.Float:
      return new Float32Array(length);
    case DataType.Int32:
      return new Int32Array(length);
    case DataType.Int64:
      return new BigInt64Array(length);
    case DataType.UInt64:
      return new BigUint64Array(length);
    case DataType.Boolean:
      return new Uint8Array(length);
    case DataType.String:
      return new Array<string>(length).fill("");
    case DataType.Varbinary:
      return new Array<Uint8Array>(length).fill(EMPTY_BYTES);
  }
}

const EMPTY_BYTES = new Uint8Array(0);

export function isValid(column: Column, row: number): boolean {
  return column.validity === null || column.validity[row] === 1;
}

/** Reads one cell as a plain value (null for a null cell). Not for hot loops. */
export function cellAt(column: Column, row: number): CellValue {
  if (!isValid(column, row)) return null;
  const v = column.values[row];
  if (column.type === DataType.Boolean) return v === 1;
  return v ?? null;
}

/** Storage for one column's rows: its values and, for a column that has nulls, its validity. */
export interface ColumnStorage {
  readonly values: ColumnValues;
  readonly validity: Uint8Array | null;
}

/** What storage a column needs: its type, and whether it has nulls (a validity array). */
export interface ColumnShape {
  readonly type: DataType;
  readonly hasNulls: boolean;
}

/**
 * Zeroed storage for `length` rows of each column (a validity array for each that has nulls), the
 * typed arrays carved out of one ArrayBuffer. A typed array of more than a few values has a
 * backing store of its own, whose allocation costs more than copying a few hundred values and
 * counts towards the memory that makes the collector run; a batch's columns live and die together.
 */
export function allocateColumns(columns: readonly ColumnShape[], length: number): ColumnStorage[] {
  let bytes = 0;
  for (const column of columns) {
    bytes += align8(fixedByteWidth(column.type) * length);
    if (column.hasNulls) bytes += align8(length);
  }
  const buffer = new ArrayBuffer(bytes);
  let at = 0;
  return columns.map((column) => {
    const width = fixedByteWidth(column.type);
    let values: ColumnValues;
    if (width === 0) {
      values = allocateValues(column.type, length);
    } else {
      values = typedView(column.type, buffer, at, length);
      at += align8(width * length);
    }
    let validity: Uint8Array | null = null;
    if (column.hasNulls) {
      validity = new Uint8Array(buffer, at, length);
      at += align8(length);
    }
    return { values, validity };
  });
}

/** Copies the rows at `indices` of `column`, in that order, into `into` (sized for them). */
export function takeColumnInto(column: Column, indices: ArrayLike<number>, into: ColumnStorage): Column {
  const n = indices.length;
  const src = column.values;
  const out = into.values;
  // One loop per array kind: a loop that meets several kinds reads and writes through slow,
  // generic element accesses.
  switch (column.type) {
    case DataType.Timestamp:
    case DataType.Double:
      gatherFloat64(out as Float64Array, src as Float64Array, indices, n);
      break;
    case DataType.Float:
      gatherFloat32(out as Float32Array, src as Float32Array, indices, n);
      break;
    case DataType.Int32:
      gatherInt32(out as Int32Array, src as Int32Array, indices, n);
      break;
    case DataType.Int64:
    case DataType.UInt64:
      gatherBigInt64(out as BigInt64Array, src as BigInt64Array, indices, n);
      break;
    case DataType.Boolean:
      gatherUint8(out as Uint8Array, src as Uint8Array, indices, n);
      break;
    case DataType.String:
    case DataType.Varbinary: {
      const dst = out as unknown[];
      const from = src as unknown[];
      for (let i = 0; i < n; i++) dst[i] = from[indices[i] as number];
      break;
    }
  }
  if (column.validity === null) return { type: column.type, values: out, validity: null };
  if (into.validity === null)
    throw new RangeError("the storage of a column with nulls needs a validity array");
  gatherUint8(into.validity, column.validity, indices, n);
  return { type: column.type, values: out, validity: into.validity };
}

function gatherFloat64(dst: Float64Array, src: Float64Array, indices: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = src[indices[i] as number] as number;
}

function gatherFloat32(dst: Float32Array, src: Float32Array, indices: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = src[indices[i] as number] as number;
}

function gatherInt32(dst: Int32Array, src: Int32Array, indices: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = src[indices[i] as number] as number;
}

/** Int64 and UInt64 alike: the 64 bits are copied as they are. */
function gatherBigInt64(dst: BigInt64Array, src: BigInt64Array, indices: ArrayLike<number>, n: number): void {
  // Through 32-bit halves: a BigInt per value would be allocated otherwise.
  const d = new Int32Array(dst.buffer, dst.byteOffset, n * 2);
  const s = new Int32Array(src.buffer, src.byteOffset, src.length * 2);
  for (let i = 0; i < n; i++) {
    const from = (indices[i] as number) * 2;
    d[i * 2] = s[from] as number;
    d[i * 2 + 1] = s[from + 1] as number;
  }
}

function gatherUint8(dst: Uint8Array, src: Uint8Array, indices: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = src[indices[i] as number] as number;
}

/** A typed array of `length` values of `type` (a fixed-width one) at `offset` in `buffer`. */
function typedView(type: DataType, buffer: ArrayBuffer, offset: number, length: number): ColumnValues {
  switch (type) {
    case DataType.Timestamp:
    case DataType.Double:
      return new Float64Array(buffer, offset, length);
    case DataType.Float:
      return new Float32Array(buffer, offset, length);
    case DataType.Int32:
      return new Int32Array(buffer, offset, length);
    case DataType.Int64:
      return new BigInt64Array(buffer, offset, length);
    case DataType.UInt64:
      return new BigUint64Array(buffer, offset, length);
    default:
      return new Uint8Array(buffer, offset, length);
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Rows [start, end) of a column without copying: typed arrays are `subarray` views, string and
 * binary arrays a `slice` of the references. The result shares memory with `column`, which is fine
 * because columns are never modified once built.
 */
export function viewColumn(column: Column, start: number, end: number): Column {
  const v = column.values;
  const values = Array.isArray(v) ? v.slice(start, end) : v.subarray(start, end);
  const validity = column.validity === null ? null : column.validity.subarray(start, end);
  return { type: column.type, values, validity };
}

/**
 * A column of the rows in `ranges` ([start, end) pairs, in order), copied range by range: one
 * block copy per range for typed arrays, instead of one index lookup per row.
 */
export function takeColumnRanges(column: Column, ranges: readonly number[], numRows: number): Column {
  const src = column.values;
  const out = allocateValues(column.type, numRows);
  let at = 0;
  if (Array.isArray(src)) {
    const dst = out as unknown[];
    for (let i = 0; i < ranges.length; i += 2) {
      const end = ranges[i + 1] as number;
      for (let r = ranges[i] as number; r < end; r++) dst[at++] = src[r];
    }
  } else {
    const dst = out as Exclude<ColumnValues, string[] | Uint8Array[]>;
    for (let i = 0; i < ranges.length; i += 2) {
      const start = ranges[i] as number;
      const end = ranges[i + 1] as number;
      (dst as Float64Array).set((src as Float64Array).subarray(start, end), at);
      at += end - start;
    }
  }
  let validity: Uint8Array | null = null;
  if (column.validity !== null) {
    validity = new Uint8Array(numRows);
    let v = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      const start = ranges[i] as number;
      const end = ranges[i + 1] as number;
      validity.set(column.validity.subarray(start, end), v);
      v += end - start;
    }
  }
  return { type: column.type, values: out, validity };
}

/** A column of `length` nulls (used for columns a batch does not carry). */
export function nullColumn(type: DataType, length: number): Column {
  return { type, values: allocateValues(type, length), validity: new Uint8Array(length) };
}

/** Approximate heap bytes of a column, for memory accounting. */
export function columnByteSize(column: Column): number {
  const v = column.values;
  let bytes = column.validity?.byteLength ?? 0;
  if (Array.isArray(v)) {
    // A pointer per row, plus each distinct string once: rows of a series share their tag strings.
    if (column.type === DataType.String) {
      for (const s of stringDictionary(v as string[], v.length).values) bytes += 2 * s.length + 16;
    } else {
      for (const b of v as Uint8Array[]) bytes += b.byteLength + 64;
    }
    bytes += 8 * v.length;
  } else {
    bytes += v.byteLength;
  }
  return bytes;
}
