import { allocateValues, type Column, type ColumnValues } from "../batch/column.js";
import { DataType } from "../table/data-type.js";
import { wordsOf } from "./key-lanes.js";

/** For each output row: the chunk it comes from and its row within that chunk. */
export interface RowLocations {
  readonly chunk: Uint32Array;
  readonly row: Uint32Array;
  readonly count: number;
}

/**
 * Copies one column's values out of many chunks into output columns, row by row. Each value type
 * has its own loop so every loop stays monomorphic; 64-bit integers are copied as pairs of 32-bit
 * words so no BigInt is created. A chunk without the column (appended under an older schema)
 * reads as nulls.
 */
export class ColumnGatherer {
  readonly #type: DataType;
  readonly #values: ColumnValues[];
  readonly #words: Uint32Array[] | undefined;
  /** Per chunk validity bytes, or null when no chunk has a null in this column. */
  readonly #validity: Uint8Array[] | null;

  constructor(type: DataType, sources: readonly (Column | undefined)[], chunkRows: readonly number[]) {
    this.#type = type;
    this.#values = sources.map((s, c) => s?.values ?? allocateValues(type, chunkRows[c] as number));
    this.#words =
      type === DataType.Int64 || type === DataType.UInt64
        ? this.#values.map((v) => wordsOf(v as BigUint64Array))
        : undefined;
    const needsValidity = sources.some((s) => s === undefined || s.validity !== null);
    this.#validity = needsValidity
      ? sources.map((s, c) => {
          if (s === undefined) return new Uint8Array(chunkRows[c] as number);
          return s.validity ?? new Uint8Array(chunkRows[c] as number).fill(1);
        })
      : null;
  }

  gather(at: RowLocations): Column {
    const n = at.count;
    const values = allocateValues(this.#type, n);
    const { chunk, row } = at;
    switch (this.#type) {
      case DataType.Timestamp:
      case DataType.Double:
        gatherFloat64(values as Float64Array, this.#values as Float64Array[], chunk, row, n);
        break;
      case DataType.Float:
        gatherFloat32(values as Float32Array, this.#values as Float32Array[], chunk, row, n);
        break;
      case DataType.Int32:
        gatherInt32(values as Int32Array, this.#values as Int32Array[], chunk, row, n);
        break;
      case DataType.Boolean:
        gatherBytes(values as Uint8Array, this.#values as Uint8Array[], chunk, row, n);
        break;
      case DataType.Int64:
      case DataType.UInt64:
        gatherWordPairs(wordsOf(values as BigUint64Array), this.#words as Uint32Array[], chunk, row, n);
        break;
      case DataType.String:
      case DataType.Varbinary:
        gatherRefs(values as unknown[], this.#values as unknown[][], chunk, row, n);
        break;
    }
    let validity: Uint8Array | null = null;
    if (this.#validity !== null) {
      validity = new Uint8Array(n);
      gatherBytes(validity, this.#validity, chunk, row, n);
    }
    return { type: this.#type, values, validity };
  }
}

function gatherFloat64(
  dst: Float64Array,
  src: Float64Array[],
  chunk: Uint32Array,
  row: Uint32Array,
  n: number,
) {
  for (let i = 0; i < n; i++) dst[i] = (src[chunk[i] as number] as Float64Array)[row[i] as number] as number;
}

function gatherFloat32(
  dst: Float32Array,
  src: Float32Array[],
  chunk: Uint32Array,
  row: Uint32Array,
  n: number,
) {
  for (let i = 0; i < n; i++) dst[i] = (src[chunk[i] as number] as Float32Array)[row[i] as number] as number;
}

function gatherInt32(dst: Int32Array, src: Int32Array[], chunk: Uint32Array, row: Uint32Array, n: number) {
  for (let i = 0; i < n; i++) dst[i] = (src[chunk[i] as number] as Int32Array)[row[i] as number] as number;
}

function gatherBytes(dst: Uint8Array, src: Uint8Array[], chunk: Uint32Array, row: Uint32Array, n: number) {
  for (let i = 0; i < n; i++) dst[i] = (src[chunk[i] as number] as Uint8Array)[row[i] as number] as number;
}

function gatherWordPairs(
  dst: Uint32Array,
  src: Uint32Array[],
  chunk: Uint32Array,
  row: Uint32Array,
  n: number,
) {
  for (let i = 0; i < n; i++) {
    const words = src[chunk[i] as number] as Uint32Array;
    const at = 2 * (row[i] as number);
    dst[2 * i] = words[at] as number;
    dst[2 * i + 1] = words[at + 1] as number;
  }
}

function gatherRefs(dst: unknown[], src: unknown[][], chunk: Uint32Array, row: Uint32Array, n: number) {
  for (let i = 0; i < n; i++) dst[i] = (src[chunk[i] as number] as unknown[])[row[i] as number];
}
