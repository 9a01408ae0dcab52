/**
 * Dictionary coding of a string column: `codes[row]` indexes `values`. Time-series tags repeat a few
 * values over many rows, so coding once and sharing the result (the tsid computation and the WAL
 * codec both need it) keeps the write path to one Map lookup per tag value.
 */
export interface StringDictionary {
  readonly codes: Uint32Array;
  /** Distinct values in order of first appearance (null rows are coded as their placeholder). */
  readonly values: readonly string[];
}

// Keyed by the column's values array, which is never mutated once a batch is built.
const cache = new WeakMap<readonly string[], StringDictionary>();

export function stringDictionary(values: readonly string[], numRows: number): StringDictionary {
  const cached = cache.get(values);
  if (cached !== undefined && cached.codes.length === numRows) return cached;
  const codes = new Uint32Array(numRows);
  const distinct: string[] = [];
  const ids = new Map<string, number>();
  for (let row = 0; row < numRows; row++) {
    const value = values[row] as string;
    let id = ids.get(value);
    if (id === undefined) {
      id = distinct.length;
      ids.set(value, id);
      distinct.push(value);
    }
    codes[row] = id;
  }
  const dictionary = { codes, values: distinct };
  cache.set(values, dictionary);
  return dictionary;
}
