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

/**
 * The row values of a string column given as dictionary codes (`dictionary[codes[row]]`), with the
 * coding recorded so that `stringDictionary()` of the result returns it rather than coding the rows
 * again. `dictionary` should hold distinct strings, as one built by `stringDictionary()` does (a
 * duplicate costs space in the WAL, and a series hashed twice to the same tsid, nothing more).
 */
export function stringColumnFromCodes(codes: Uint32Array, dictionary: readonly string[]): string[] {
  const numRows = codes.length;
  const values = new Array<string>(numRows);
  for (let row = 0; row < numRows; row++) {
    const value = dictionary[codes[row] as number];
    if (value === undefined) throw new RangeError(`row ${row}: code ${codes[row]} >= ${dictionary.length}`);
    values[row] = value;
  }
  cache.set(values, { codes, values: dictionary });
  return values;
}
