import xxhash from "xxhash-wasm";

const hasher = await xxhash();
const SEED = 0n;

/**
 * The series id of a row: a stable 64-bit hash (xxHash64) of its non-null tag values. Tags are taken
 * in name order as `name \0 value \0`, and null tags are skipped, so adding a TAG column to a table
 * leaves the tsid of existing series unchanged.
 */
export function computeTsid(tags: ReadonlyArray<readonly [name: string, value: string | null]>): bigint {
  const sorted = [...tags].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let key = "";
  for (const [name, value] of sorted) {
    if (value === null) continue;
    key += `${name}\u0000${value}\u0000`;
  }
  return hasher.h64Raw(Buffer.from(key, "utf8"), SEED);
}

/**
 * Computes the tsid of every row from the tag columns (given in any order, with their names), with a
 * cache per distinct tag combination: time-series batches repeat the same series many times.
 */
export function computeTsids(
  numRows: number,
  tagColumns: ReadonlyArray<{ name: string; values: readonly string[]; validity: Uint8Array | null }>,
): BigUint64Array {
  const order = [...tagColumns].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out = new BigUint64Array(numRows);
  const cache = new Map<string, bigint>();
  for (let row = 0; row < numRows; row++) {
    let key = "";
    for (const column of order) {
      if (column.validity !== null && column.validity[row] === 0) continue;
      key += `${column.name}\u0000${column.values[row]}\u0000`;
    }
    let tsid = cache.get(key);
    if (tsid === undefined) {
      tsid = hasher.h64Raw(Buffer.from(key, "utf8"), SEED);
      cache.set(key, tsid);
    }
    out[row] = tsid;
  }
  return out;
}
