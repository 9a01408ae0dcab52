import { mkdtemp, readdir, rm, stat, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CachedObjectStore,
  InvalidObjectKeyError,
  LocalObjectStore,
  ObjectExistsError,
  RESERVED_SEGMENT_PREFIX,
} from "../../src/object-store/index.js";
import { objectStoreContract } from "../../src/testing/object-store-contract.js";

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), "horaedb-object-store-"));
}

async function openLocal(options: { fsync?: boolean } = {}) {
  const dir = await tempDir();
  const store = await LocalObjectStore.open(path.join(dir, "root"), options);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

objectStoreContract("LocalObjectStore", () => openLocal());

objectStoreContract(
  "CachedObjectStore over LocalObjectStore",
  async () => {
    const local = await openLocal();
    // Large enough to cache the contract's 12 MiB object, so ranges are also cut from cached objects.
    return {
      store: new CachedObjectStore(local.store, { capacityBytes: 32 * 1024 * 1024 }),
      cleanup: local.cleanup,
    };
  },
  { manyObjects: 300 },
);

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

describe("LocalObjectStore", () => {
  let dir: string;
  let store: LocalObjectStore;

  beforeEach(async () => {
    dir = await tempDir();
    store = await LocalObjectStore.open(path.join(dir, "nested", "root"));
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates its root directory and stores key a/b/c as the file <root>/a/b/c", async () => {
    expect((await stat(store.root)).isDirectory()).toBe(true);
    await store.put("a/b/c", bytes("content"));
    expect(text(await store.get("a/b/c"))).toBe("content");
    expect(await filesUnder(store.root)).toEqual([path.join("a", "b", "c")]);
  });

  it("leaves no temporary file after puts, overwrites and refused conditional puts", async () => {
    await store.put("t/one", bytes("1"));
    await store.put("t/one", bytes("2"));
    await store.put("t/two", bytes("x"), { ifNotExists: true });
    await expect(store.put("t/two", bytes("y"), { ifNotExists: true })).rejects.toBeInstanceOf(
      ObjectExistsError,
    );
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(`t/many/${i}`, bytes(String(i)))));
    const files = await filesUnder(store.root);
    expect(files.filter((file) => path.basename(file).startsWith(RESERVED_SEGMENT_PREFIX))).toEqual([]);
    expect(files).toHaveLength(22);
  });

  it("never shows a reader a partly written object while it is overwritten", async () => {
    const a = new Uint8Array(256 * 1024).fill(0xaa);
    const b = new Uint8Array(256 * 1024).fill(0xbb);
    await store.put("swap", a);
    const writes = (async () => {
      for (let i = 0; i < 20; i++) await store.put("swap", i % 2 === 0 ? b : a);
    })();
    let reads = 0;
    let done = false;
    void writes.finally(() => (done = true));
    while (!done || reads < 20) {
      const [got, range] = await Promise.all([store.get("swap"), store.getRange("swap", 1000, 256 * 1024)]);
      expect(got.length).toBe(a.length);
      expect(got[0] === 0xaa || got[0] === 0xbb).toBe(true);
      expect(got.every((byte) => byte === got[0])).toBe(true);
      expect(range.every((byte) => byte === range[0])).toBe(true);
      reads++;
    }
    await writes;
  });

  it("keeps an interrupted put (a leftover temporary file) invisible to get, head and list", async () => {
    await store.put("tables/1/sst/1.parquet", bytes("committed"));
    // What a crash between writing the temporary file and renaming it leaves behind.
    const leftover = path.join(
      store.root,
      "tables",
      "1",
      "sst",
      `${RESERVED_SEGMENT_PREFIX}0123456789abcdef`,
    );
    await writeFile(leftover, "half-written new version");

    expect(text(await store.get("tables/1/sst/1.parquet"))).toBe("committed");
    const listed: string[] = [];
    for await (const meta of store.list("")) listed.push(meta.key);
    expect(listed).toEqual(["tables/1/sst/1.parquet"]);
    await expect(store.head(`tables/1/sst/${path.basename(leftover)}`)).rejects.toBeInstanceOf(
      InvalidObjectKeyError,
    );

    // A store reopened after the crash sees the same.
    const reopened = await LocalObjectStore.open(store.root);
    expect(text(await reopened.get("tables/1/sst/1.parquet"))).toBe("committed");
  });

  it("removeTempFiles deletes leftover temporary files older than the given age", async () => {
    await store.put("d/kept", bytes("kept"));
    const old = path.join(store.root, "d", `${RESERVED_SEGMENT_PREFIX}old`);
    const fresh = path.join(store.root, `${RESERVED_SEGMENT_PREFIX}fresh`);
    await writeFile(old, "x");
    await writeFile(fresh, "y");
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(old, anHourAgo, anHourAgo);

    expect(await store.removeTempFiles(600_000)).toBe(1);
    expect(await filesUnder(store.root)).toEqual([path.basename(fresh), path.join("d", "kept")]);
    expect(await store.removeTempFiles()).toBe(1);
    expect(await filesUnder(store.root)).toEqual([path.join("d", "kept")]);
  });

  it("getRange reads only the requested bytes of a huge sparse file", async () => {
    await store.put("sparse", bytes("head"));
    // 8 GiB: more than a whole-file read could even hold in one buffer.
    const size = 8 * 1024 ** 3;
    await truncate(path.join(store.root, "sparse"), size);
    expect(text(await store.getRange("sparse", 0, 4))).toBe("head");
    expect(Array.from(await store.getRange("sparse", size - 3, size + 100))).toEqual([0, 0, 0]);
    expect((await store.head("sparse"))?.size).toBe(size);
  });

  it("refuses an object whose key is a prefix of other objects, and the reverse", async () => {
    await store.put("x/y/z", bytes("z"));
    for (const options of [{}, { ifNotExists: true }]) {
      const error = await store.put("x/y", bytes("y"), options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidObjectKeyError);
      expect((error as Error).message).toMatch(/other objects have this key as their prefix/);
    }
    for (const key of ["x/y/z/w", "x/y/z/w/v"]) {
      const error = await store.put(key, bytes("w")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidObjectKeyError);
      expect((error as Error).message).toMatch(/an object exists at a prefix of this key/);
    }
    // Reads see no object at the directory's key.
    expect(await store.head("x/y")).toBeUndefined();
    await store.delete("x/y");
    expect(text(await store.get("x/y/z"))).toBe("z");
  });

  it("works without fsync", async () => {
    const unsynced = await LocalObjectStore.open(path.join(dir, "unsynced"), { fsync: false });
    await unsynced.put("k/v", bytes("value"), { ifNotExists: true });
    expect(text(await unsynced.get("k/v"))).toBe("value");
    await unsynced.delete("k/v");
    expect(await unsynced.head("k/v")).toBeUndefined();
  });
});
