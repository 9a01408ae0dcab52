import xxhash from "xxhash-wasm";
import { stringDictionary } from "../batch/string-dictionary.js";

const hasher = await xxhash();
const SEED = 0n;

/**
 * The series id of a row: a stable 64-bit hash (xxHash64) of its non-null tag values. Tags are taken
 * in name order as `name \0 value \0`, and null tags are skipped, so adding a TAG column to a table
 * leaves the tsid of existing series unchanged.
 */
export function computeTsid(tags: ReadonlyArray<readonly [name: string, value: string | null]>): bigint {
  return hashSeries([...tags].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** The hash of a series given its tags in name order: the one definition of the tsid's input. */
function hashSeries(sortedTags: Iterable<readonly [name: string, value: string | null | undefined]>): bigint {
  let key = "";
  for (const [name, value] of sortedTags) {
    if (value === null || value === undefined) continue;
    key += `${name}\u0000${value}\u0000`;
  }
  // h64 encodes the string into the hasher's memory itself: no Buffer per series (same hash).
  return hasher.h64(key, SEED);
}

/**
 * Computes the tsid of every row from the tag columns (given in any order, with their names).
 * Time-series batches repeat the same few series many times, so each tag column is dictionary coded
 * (shared with the WAL codec), the codes of a row are combined into one numeric series key, and only
 * the first row of each series builds the hash input and hashes it.
 */
export function computeTsids(
  numRows: number,
  tagColumns: ReadonlyArray<{ name: string; values: readonly string[]; validity: Uint8Array | null }>,
): BigUint64Array {
  const order = [...tagColumns].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const codes: Uint32Array[] = [];
  // dictionaries[c][0] is the null tag; entry i + 1 is the column dictionary's value i.
  const dictionaries: Array<Array<string | null>> = [];
  for (const column of order) {
    const shared = stringDictionary(column.values, numRows);
    const code = new Uint32Array(numRows);
    for (let row = 0; row < numRows; row++) {
      code[row] =
        column.validity !== null && column.validity[row] === 0 ? 0 : (shared.codes[row] as number) + 1;
    }
    codes.push(code);
    dictionaries.push([null, ...shared.values]);
  }
  const out = new BigUint64Array(numRows);
  const hashRow = (row: number): bigint =>
    hashSeries(
      order.map((column, c) => [
        column.name,
        (dictionaries[c] as Array<string | null>)[(codes[c] as Uint32Array)[row] as number],
      ]),
    );
  const radix = dictionaries.reduce((product, d) => product * d.length, 1);
  if (radix <= Number.MAX_SAFE_INTEGER) {
    const cache = new Map<number, bigint>();
    for (let row = 0; row < numRows; row++) {
      let key = 0;
      for (let c = 0; c < codes.length; c++) {
        key = key * (dictionaries[c] as unknown[]).length + ((codes[c] as Uint32Array)[row] as number);
      }
      let tsid = cache.get(key);
      if (tsid === undefined) {
        tsid = hashRow(row);
        cache.set(key, tsid);
      }
      out[row] = tsid;
    }
  } else {
    // Too many distinct combinations for an exact numeric key: key the cache by the codes.
    const cache = new Map<string, bigint>();
    for (let row = 0; row < numRows; row++) {
      let key = "";
      for (let c = 0; c < codes.length; c++) key += `${(codes[c] as Uint32Array)[row]},`;
      let tsid = cache.get(key);
      if (tsid === undefined) {
        tsid = hashRow(row);
        cache.set(key, tsid);
      }
      out[row] = tsid;
    }
  }
  return out;
}
