import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import type { ObjectMeta, ObjectStore, PutOptions } from "../../src/object-store/object-store.js";
import { DecodedColumnCache, columnBytes } from "../../src/sst/decoded-cache.js";
import { readSst, SstCorruptionError, writeSst, type SstMeta } from "../../src/sst/index.js";
import { DataType } from "../../src/table/data-type.js";
import { tsbsCpuSchema, tsbsSortedBatch } from "../../src/testing/tsbs.js";
import { collect, openTempStore, rowsOf, rowsOfAll, type TempStore } from "./fixtures.js";

const KEY = "testCluster/tables/7/sst/1.parquet";
const HOSTS = 6;
const POINTS = 500;
const ROWS_PER_GROUP = 1000;
const GROUPS = (HOSTS * POINTS) / ROWS_PER_GROUP;

/** Counts the reads that reach the store: whole objects, and ranges with their bytes. */
class CountingStore implements ObjectStore {
  gets = 0;
  ranges = 0;
  rangeBytes = 0;
  constructor(readonly inner: ObjectStore) {}
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    return this.inner.put(key, data, options);
  }
  get(key: string): Promise<Uint8Array> {
    this.gets++;
    return this.inner.get(key);
  }
  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const bytes = await this.inner.getRange(key, start, end);
    this.ranges++;
    this.rangeBytes += bytes.length;
    return bytes;
  }
  head(key: string): Promise<ObjectMeta | undefined> {
    return this.inner.head(key);
  }
  list(prefix: string): AsyncIterable<ObjectMeta> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let temp: TempStore;
let store: CountingStore;
let input: ColumnBatch;
let meta: SstMeta;

beforeEach(async () => {
  temp = await openTempStore();
  store = new CountingStore(temp.store);
  input = tsbsSortedBatch(HOSTS, POINTS);
  meta = await writeSst(temp.store, KEY, {
    schema: tsbsCpuSchema(),
    batches: [input],
    options: { numRowsPerRowGroup: ROWS_PER_GROUP },
    maxSequence: 1,
  });
});
afterEach(async () => {
  await temp.remove();
});

const read = (projection: string[], cache?: DecodedColumnCache) =>
  collect(readSst(store, KEY, { meta, projection, cache }));

/** Rewrites one hex digit of the checksum stored in the file: the data still decodes, the CRC fails. */
async function damageStoredChecksum(): Promise<void> {
  const bytes = await temp.store.get(KEY);
  const at = Buffer.from(bytes).lastIndexOf('"crc32c":"') + '"crc32c":"'.length;
  bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30;
  await temp.store.put(KEY, bytes);
}

describe("decoded column cache", () => {
  it("serves a second read of the same columns without fetching or decoding", async () => {
    const cache = new DecodedColumnCache(64 * 1024 * 1024);
    const projection = ["timestamp", "hostname", "usage_user"];
    const first = await read(projection, cache);
    expect(store).toMatchObject({ gets: 1, ranges: 0 });
    expect(cache.stats()).toMatchObject({ hits: 0, misses: GROUPS * 3 });
    const second = await read(projection, cache);
    expect(store).toMatchObject({ gets: 1, ranges: 0 });
    expect(cache.stats()).toMatchObject({ hits: GROUPS * 3, misses: GROUPS * 3 });
    expect(rowsOfAll(first)).toEqual(rowsOf(input, projection));
    expect(rowsOfAll(second)).toEqual(rowsOf(input, projection));
    // The same decoded arrays are handed out again.
    expect(second[0]?.columns[0]?.values).toBe(first[0]?.columns[0]?.values);
  });

  it("decodes only the columns missing from the cache, reading a verified file by ranges", async () => {
    const cache = new DecodedColumnCache(64 * 1024 * 1024);
    await read(["timestamp", "hostname"], cache);
    expect(store).toMatchObject({ gets: 1, ranges: 0 });
    const scan = readSst(store, KEY, { meta, projection: ["usage_user", "hostname", "timestamp"], cache });
    const batches = await collect(scan);
    expect(scan.metrics).toMatchObject({ cacheHits: GROUPS * 2, cacheMisses: GROUPS });
    expect(rowsOfAll(batches)).toEqual(rowsOf(input, ["usage_user", "hostname", "timestamp"]));
    // No second whole-object fetch: the footer and one column's chunks, a fraction of the file.
    expect(store.gets).toBe(1);
    expect(store.ranges).toBeGreaterThan(0);
    expect(store.rangeBytes).toBeLessThan(meta.fileSize / 3);
    expect(scan.metrics.bytesRead).toBe(store.rangeBytes);
  });

  it("verifies a file's checksum on its first fetch, not on later ones", async () => {
    const cache = new DecodedColumnCache(64 * 1024 * 1024);
    await read(["timestamp"], cache);
    await damageStoredChecksum();
    // An uncached column needs a fetch; the file was verified already.
    expect(rowsOfAll(await read(["usage_idle"], cache))).toEqual(rowsOf(input, ["usage_idle"]));
    // Without the cache, or with a cache that never saw the file, every fetch is verified.
    await expect(read(["usage_idle"])).rejects.toBeInstanceOf(SstCorruptionError);
    await expect(read(["usage_idle"], new DecodedColumnCache(1 << 20))).rejects.toBeInstanceOf(
      SstCorruptionError,
    );
  });

  it("caches nothing of a file that fails verification", async () => {
    await damageStoredChecksum();
    const cache = new DecodedColumnCache(64 * 1024 * 1024);
    await expect(read(["timestamp"], cache)).rejects.toBeInstanceOf(SstCorruptionError);
    await expect(read(["timestamp"], cache)).rejects.toBeInstanceOf(SstCorruptionError);
    expect(cache.stats().entries).toBe(0);
    expect(cache.isVerified(DecodedColumnCache.fileId(KEY, meta.crc32c))).toBe(false);
  });

  it("evicts the least recently used columns to stay within its capacity", async () => {
    const oneColumn = await read(["usage_user"]);
    const chunkBytes = columnBytes(oneColumn[0]?.columns[0] as Column);
    // Room for a little more than one column of every row group.
    const capacity = Math.ceil(chunkBytes * (GROUPS + 1));
    const cache = new DecodedColumnCache(capacity);
    const projection = ["usage_user", "usage_system"];
    const batches = await read(projection, cache);
    expect(rowsOfAll(batches)).toEqual(rowsOf(input, projection));
    const stats = cache.stats();
    expect(stats.bytes).toBeLessThanOrEqual(capacity);
    expect(stats.evictions).toBeGreaterThan(0);
    expect(stats.entries).toBeLessThan(GROUPS * 2);
    // What is left still reads correctly, and the evicted chunks are decoded again.
    const again = await read(projection, cache);
    expect(rowsOfAll(again)).toEqual(rowsOf(input, projection));
    expect(cache.stats().misses).toBeGreaterThan(stats.misses);
  });

  it("decodes each column chunk once when reads of the same row groups run concurrently", async () => {
    const cache = new DecodedColumnCache(64 * 1024 * 1024);
    const projection = ["timestamp", "usage_user"];
    const [a, b] = await Promise.all([read(projection, cache), read(projection, cache)]);
    expect(rowsOfAll(a)).toEqual(rowsOf(input, projection));
    expect(rowsOfAll(b)).toEqual(rowsOf(input, projection));
    const stats = cache.stats();
    expect(stats.misses).toBe(GROUPS * 2);
    expect(stats.hits + stats.coalesced).toBe(GROUPS * 2);
    expect(stats.coalesced).toBeGreaterThan(0);
  });

  it("forgets every entry of an object, whatever its checksum, and nothing of others", () => {
    const cache = new DecodedColumnCache(1 << 20);
    const column = (n: number): Column => ({
      type: DataType.Double,
      values: new Float64Array(n),
      validity: null,
    });
    const other = DecodedColumnCache.fileId(`${KEY}x`, "c");
    for (const file of [DecodedColumnCache.fileId(KEY, "a"), DecodedColumnCache.fileId(KEY, "b"), other]) {
      cache.putColumns(file, 0, new Map([["v", column(10)]]));
      cache.putColumns(
        file,
        3,
        new Map([
          ["v", column(20)],
          ["w", column(5)],
        ]),
      );
      cache.setRuns(file, 0, null);
      cache.markVerified(file);
    }
    const kept = cache.stats();
    cache.forgetObject(KEY);
    expect(cache.stats().entries).toBe(kept.entries / 3);
    expect(cache.stats().bytes).toBe(kept.bytes / 3);
    expect(cache.column(DecodedColumnCache.fileId(KEY, "a"), 3, "v")).toBeUndefined();
    expect(cache.runs(DecodedColumnCache.fileId(KEY, "b"), 0)).toBeUndefined();
    expect(cache.isVerified(DecodedColumnCache.fileId(KEY, "a"))).toBe(false);
    expect(cache.column(other, 3, "w")?.values).toHaveLength(5);
    expect(cache.isVerified(other)).toBe(true);
    expect(cache.stats().evictions).toBe(0);
  });

  it("serves a decode in flight when its object is forgotten, but caches nothing of it", async () => {
    const cache = new DecodedColumnCache(1 << 20);
    const file = DecodedColumnCache.fileId(KEY, "a");
    const column: Column = { type: DataType.Double, values: Float64Array.of(1, 2), validity: null };
    const forgotten = cache.beginDecode(file, 0, ["v"]);
    const waiting = cache.pending(file, 0, "v");
    cache.forgetObject(KEY);
    expect(cache.pending(file, 0, "v")).toBeUndefined();
    forgotten.resolve(new Map([["v", column]]));
    await expect(waiting).resolves.toBe(column);
    expect(cache.column(file, 0, "v")).toBeUndefined();
    // Not forgotten: cached.
    cache.beginDecode(file, 1, ["v"]).resolve(new Map([["v", column]]));
    expect(cache.column(file, 1, "v")).toBe(column);
  });

  it("counts bytes exactly for typed arrays and per run for strings", () => {
    const doubles = { type: DataType.Double, values: new Float64Array(100), validity: null };
    const strings = {
      type: DataType.String,
      values: [...Array<string>(50).fill("alpha"), ...Array<string>(50).fill("beta")],
      validity: new Uint8Array(100),
    };
    expect(columnBytes(doubles) - columnBytes({ ...doubles, values: new Float64Array(0) })).toBe(800);
    const base = columnBytes({ ...strings, values: [], validity: null });
    expect(columnBytes(strings) - base).toBe(100 + 8 * 100 + (2 * 5 + 24) + (2 * 4 + 24));
  });
});
