import type { Column } from "../batch/column.js";
import { DataType } from "../table/data-type.js";
import { bitLength, radixSortByLanes, type SortLane } from "./radix-sort.js";

/**
 * Turns the values of one primary key column, spread over several chunks, into radix-sortable lanes
 * whose order and equality are those of the values:
 * - integers with a modest range (timestamps, int32, boolean) become offsets from the minimum;
 * - int64/uint64 (and the generated tsid) become dense ranks, found by hashing their two 32-bit
 *   halves, so the hot loops never create BigInts;
 * - strings and floating-point values become dense ranks of their sorted distinct values.
 *
 * Value order: numbers ascending with NaN last (all NaNs equal, -0 equal to 0); uint64 unsigned;
 * int64 signed; strings by Unicode code point, which is the byte order of their UTF-8 encoding;
 * false before true.
 */
export interface KeyColumnParts {
  readonly type: DataType;
  /** One column per chunk; `rowCounts[i]` rows of `columns[i]` are used. */
  readonly columns: readonly Column[];
  readonly rowCounts: readonly number[];
  readonly totalRows: number;
}

const TWO_POW_32 = 4294967296;
const MAX_EXACT_RANGE = Number.MAX_SAFE_INTEGER;

export function buildKeyLanes(parts: KeyColumnParts): SortLane[] {
  switch (parts.type) {
    case DataType.Timestamp:
    case DataType.Int32:
    case DataType.Boolean:
      return integerOffsetLanes(parts) ?? numberRankLanes(parts);
    case DataType.Double:
    case DataType.Float:
      return numberRankLanes(parts);
    case DataType.Int64:
    case DataType.UInt64:
      return int64RankLanes(parts, parts.type === DataType.Int64);
    case DataType.String:
      return stringRankLanes(parts);
    case DataType.Varbinary:
      // The schema forbids varbinary key columns; rank by identity would be meaningless.
      throw new TypeError("varbinary columns cannot be part of a primary key");
  }
}

type NumberArray = Float64Array | Float32Array | Int32Array | Uint8Array;

/** Offsets from the minimum; undefined when a value is not an integer or the range is not exact. */
function integerOffsetLanes(parts: KeyColumnParts): SortLane[] | undefined {
  let min = Infinity;
  let max = -Infinity;
  for (let c = 0; c < parts.columns.length; c++) {
    const values = (parts.columns[c] as Column).values as NumberArray;
    const rows = parts.rowCounts[c] as number;
    for (let r = 0; r < rows; r++) {
      const v = values[r] as number;
      if (v !== Math.floor(v)) return undefined; // fractions, NaN and infinities
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (parts.totalRows === 0) return [];
  const range = max - min;
  if (!(range <= MAX_EXACT_RANGE)) return undefined;
  const bits = bitLength(range);
  const lo = new Uint32Array(parts.totalRows);
  if (bits <= 32) {
    let g = 0;
    for (let c = 0; c < parts.columns.length; c++) {
      const values = (parts.columns[c] as Column).values as NumberArray;
      const rows = parts.rowCounts[c] as number;
      for (let r = 0; r < rows; r++) lo[g++] = (values[r] as number) - min;
    }
    return [{ values: lo, bits }];
  }
  const hi = new Uint32Array(parts.totalRows);
  let g = 0;
  for (let c = 0; c < parts.columns.length; c++) {
    const values = (parts.columns[c] as Column).values as NumberArray;
    const rows = parts.rowCounts[c] as number;
    for (let r = 0; r < rows; r++) {
      const offset = (values[r] as number) - min;
      hi[g] = Math.floor(offset / TWO_POW_32);
      lo[g] = offset >>> 0; // ToUint32 is the value modulo 2^32, exact below 2^53
      g++;
    }
  }
  return [
    { values: hi, bits: bits - 32 },
    { values: lo, bits: 32 },
  ];
}

/** Dense ranks of floating-point (or non-integer) values. */
function numberRankLanes(parts: KeyColumnParts): SortLane[] {
  // Map keys compare with SameValueZero: NaN equals NaN and -0 equals 0, as the key order wants.
  const idOf = new Map<number, number>();
  const distinct: number[] = [];
  const ids = new Uint32Array(parts.totalRows);
  let g = 0;
  for (let c = 0; c < parts.columns.length; c++) {
    const values = (parts.columns[c] as Column).values as NumberArray;
    const rows = parts.rowCounts[c] as number;
    for (let r = 0; r < rows; r++) {
      const v = values[r] as number;
      let id = idOf.get(v);
      if (id === undefined) {
        id = distinct.length;
        idOf.set(v, id);
        distinct.push(v);
      }
      ids[g++] = id;
    }
  }
  // The default TypedArray sort is numeric with NaN last.
  const sorted = Float64Array.from(distinct).sort();
  const rankOfValue = new Map<number, number>();
  for (let i = 0; i < sorted.length; i++) rankOfValue.set(sorted[i] as number, i);
  const rankOfId = new Uint32Array(distinct.length);
  for (let id = 0; id < distinct.length; id++)
    rankOfId[id] = rankOfValue.get(distinct[id] as number) as number;
  return [rankLane(ids, rankOfId)];
}

function stringRankLanes(parts: KeyColumnParts): SortLane[] {
  const idOf = new Map<string, number>();
  const distinct: string[] = [];
  const ids = new Uint32Array(parts.totalRows);
  let g = 0;
  for (let c = 0; c < parts.columns.length; c++) {
    const values = (parts.columns[c] as Column).values as string[];
    const rows = parts.rowCounts[c] as number;
    for (let r = 0; r < rows; r++) {
      const v = values[r] as string;
      let id = idOf.get(v);
      if (id === undefined) {
        id = distinct.length;
        idOf.set(v, id);
        distinct.push(v);
      }
      ids[g++] = id;
    }
  }
  const byValue = Array.from(distinct.keys()).sort((a, b) =>
    compareStrings(distinct[a] as string, distinct[b] as string),
  );
  const rankOfId = new Uint32Array(distinct.length);
  for (let rank = 0; rank < byValue.length; rank++) rankOfId[byValue[rank] as number] = rank;
  return [rankLane(ids, rankOfId)];
}

/** Where the low and high 32-bit halves of a 64-bit element sit in a Uint32Array view. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
export const LOW_WORD = LITTLE_ENDIAN ? 0 : 1;
export const HIGH_WORD = 1 - LOW_WORD;

/** A Uint32Array over the same memory as a BigInt64Array/BigUint64Array: two words per element. */
export function wordsOf(values: BigInt64Array | BigUint64Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
}

/**
 * Dense ranks of 64-bit integers, computed from their 32-bit halves: an open-addressing hash table
 * assigns ids to distinct values, then the distinct values are radix-sorted.
 */
function int64RankLanes(parts: KeyColumnParts, signed: boolean): SortLane[] {
  const ids = new Uint32Array(parts.totalRows);
  const table = new WordPairTable();
  let g = 0;
  for (let c = 0; c < parts.columns.length; c++) {
    const words = wordsOf((parts.columns[c] as Column).values as BigUint64Array);
    const rows = parts.rowCounts[c] as number;
    for (let r = 0; r < rows; r++) {
      ids[g++] = table.idOf(words[2 * r + HIGH_WORD] as number, words[2 * r + LOW_WORD] as number);
    }
  }
  const count = table.size;
  const high = table.highWords.subarray(0, count);
  const low = table.lowWords.subarray(0, count);
  if (signed) {
    // Flipping the sign bit makes two's-complement high words sort as unsigned numbers.
    for (let i = 0; i < count; i++) high[i] = ((high[i] as number) ^ 0x80000000) >>> 0;
  }
  const distinctOrder = new Uint32Array(count);
  for (let i = 0; i < count; i++) distinctOrder[i] = i;
  const byValue = radixSortByLanes(distinctOrder, [
    { values: high, bits: 32 },
    { values: low, bits: 32 },
  ]);
  const rankOfId = new Uint32Array(count);
  for (let rank = 0; rank < count; rank++) rankOfId[byValue[rank] as number] = rank;
  return [rankLane(ids, rankOfId)];
}

function rankLane(ids: Uint32Array, rankOfId: Uint32Array): SortLane {
  for (let i = 0; i < ids.length; i++) ids[i] = rankOfId[ids[i] as number] as number;
  return { values: ids, bits: bitLength(Math.max(0, rankOfId.length - 1)) };
}

/** Assigns dense ids (in first-seen order) to distinct (high, low) 32-bit word pairs. */
export class WordPairTable {
  highWords: Uint32Array = new Uint32Array(64);
  lowWords: Uint32Array = new Uint32Array(64);
  size = 0;
  #slots = new Int32Array(128).fill(-1);
  #mask = 127;

  idOf(high: number, low: number): number {
    const slots = this.#slots;
    const mask = this.#mask;
    let s = hashWords(high, low) & mask;
    for (;;) {
      const id = slots[s] as number;
      if (id < 0) break;
      if (this.highWords[id] === high && this.lowWords[id] === low) return id;
      s = (s + 1) & mask;
    }
    const id = this.size++;
    if (id === this.highWords.length) {
      this.highWords = growWords(this.highWords);
      this.lowWords = growWords(this.lowWords);
    }
    this.highWords[id] = high;
    this.lowWords[id] = low;
    slots[s] = id;
    // Keep the load factor at or below one half so probe sequences stay short.
    if (this.size * 2 > slots.length) this.#rehash(slots.length * 2);
    return id;
  }

  #rehash(capacity: number): void {
    const slots = new Int32Array(capacity).fill(-1);
    const mask = capacity - 1;
    for (let id = 0; id < this.size; id++) {
      let s = hashWords(this.highWords[id] as number, this.lowWords[id] as number) & mask;
      while ((slots[s] as number) >= 0) s = (s + 1) & mask;
      slots[s] = id;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}

/** A copy of `words` with twice the room. */
export function growWords(words: Uint32Array): Uint32Array {
  const bigger = new Uint32Array(words.length * 2);
  bigger.set(words);
  return bigger;
}

/** A hash of a 64-bit value given as two 32-bit words, for open-addressing tables. */
export function hashWords(high: number, low: number): number {
  let h = Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  return h >>> 0;
}

/**
 * Compares strings by Unicode code point, which equals the byte order of their UTF-8 encoding (the
 * order Parquet statistics and Arrow use). Plain `<` compares UTF-16 code units, which puts
 * U+E000..U+FFFF after supplementary characters.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800-DFFF) encode code points above FFFF, so they rank above E000-FFFF.
    if (x >= 0xd800 && y >= 0xd800) return surrogateRank(x) - surrogateRank(y);
    return x - y;
  }
  return a.length - b.length;
}

function surrogateRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
