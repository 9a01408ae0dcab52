import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CachedObjectStore,
  LocalObjectStore,
  ObjectNotFoundError,
  type ObjectMeta,
  type ObjectStore,
  type PutOptions,
} from "../../src/object-store/index.js";

/**
 * A LocalObjectStore that counts the reads reaching it and can hold them until released, to observe
 * what the cache forwards.
 */
class ObservedStore implements ObjectStore {
  reads: string[] = [];
  closed = false;
  private gate: Promise<void> | undefined;

  constructor(private readonly local: LocalObjectStore) {}

  /**
   * Reads started from now on read at once but answer (or fail) only when the returned function is
   * called, or until stopHolding().
   */
  hold(): () => void {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    this.gate = gate;
    return () => {
      if (this.gate === gate) this.gate = undefined;
      open();
    };
  }

  /** Reads started from now on answer at once; reads already held stay held. */
  stopHolding(): void {
    this.gate = undefined;
  }

  put(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    return this.local.put(key, data, options);
  }

  async get(key: string): Promise<Uint8Array> {
    this.reads.push(`get ${key}`);
    const gate = this.gate;
    try {
      return await this.local.get(key);
    } finally {
      await gate;
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    this.reads.push(`getRange ${key} ${start}-${end}`);
    const gate = this.gate;
    try {
      return await this.local.getRange(key, start, end);
    } finally {
      await gate;
    }
  }

  head(key: string): Promise<ObjectMeta | undefined> {
    return this.local.head(key);
  }

  list(prefix: string): AsyncIterable<ObjectMeta> {
    return this.local.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.local.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.local.close();
  }
}

const filled = (size: number, value: number): Uint8Array => new Uint8Array(size).fill(value);
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

/** Lets pending promise callbacks and I/O run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("CachedObjectStore", () => {
  let dir: string;
  let inner: ObservedStore;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "horaedb-cached-store-"));
    inner = new ObservedStore(await LocalObjectStore.open(dir, { fsync: false }));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("answers a repeated get from the cache and counts hits and misses", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 1000 });
    await cache.put("k", bytes("value"));
    expect(text(await cache.get("k"))).toBe("value");
    expect(text(await cache.get("k"))).toBe("value");
    expect(inner.reads).toEqual(["get k"]);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1, bytes: 5, capacityBytes: 1000 });
  });

  it("hands out copies: changing returned bytes does not change the cache", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 1000 });
    await cache.put("k", bytes("value"));
    (await cache.get("k")).fill(0);
    (await cache.get("k")).fill(0);
    expect(text(await cache.get("k"))).toBe("value");
  });

  it("caches ranges by key and range, and cuts ranges from a cached whole object", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 1000 });
    await cache.put("k", bytes("0123456789"));
    expect(text(await cache.getRange("k", 2, 5))).toBe("234");
    expect(text(await cache.getRange("k", 2, 5))).toBe("234");
    expect(text(await cache.getRange("k", 2, 6))).toBe("2345");
    expect(inner.reads).toEqual(["getRange k 2-5", "getRange k 2-6"]);

    await cache.get("k");
    expect(text(await cache.getRange("k", 7, 100))).toBe("789");
    expect(inner.reads).toHaveLength(3);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 3, entries: 3, bytes: 17 });
  });

  it("evicts the least recently used entries when the bytes exceed the capacity", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 100 });
    for (const key of ["a", "b", "c"]) await cache.put(key, filled(40, key.charCodeAt(0)));
    await cache.get("a");
    await cache.get("b");
    await cache.get("a"); // now b is the least recently used
    await cache.get("c"); // 120 bytes would exceed 100: b goes
    expect(cache.stats()).toMatchObject({ evictions: 1, entries: 2, bytes: 80 });

    inner.reads = [];
    await cache.get("a");
    await cache.get("c");
    await cache.get("b");
    expect(inner.reads).toEqual(["get b"]);
  });

  it("does not cache an object larger than the capacity", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 100 });
    await cache.put("small", filled(60, 1));
    await cache.get("small");
    await cache.put("big", filled(101, 2));
    expect((await cache.get("big")).length).toBe(101);
    expect((await cache.get("big")).length).toBe(101);
    expect(inner.reads).toEqual(["get small", "get big", "get big"]);
    // The small entry was not evicted for an object that could never fit.
    expect(cache.stats()).toMatchObject({ bypasses: 2, evictions: 0, entries: 1, bytes: 60 });
  });

  it("drops cached whole objects and ranges of a key when it is put or deleted", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 1000 });
    await cache.put("k", bytes("old value"));
    await cache.put("other", bytes("other"));
    await cache.get("k");
    await cache.getRange("k", 0, 3);
    await cache.get("other");

    await cache.put("k", bytes("new value"));
    // The range first: once the whole object is cached again, ranges are cut from it.
    expect(text(await cache.getRange("k", 0, 3))).toBe("new");
    expect(text(await cache.get("k"))).toBe("new value");
    expect(cache.stats()).toMatchObject({ entries: 3, bytes: 9 + 3 + 5 });

    await cache.delete("k");
    await expect(cache.get("k")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(cache.getRange("k", 0, 3)).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(text(await cache.get("other"))).toBe("other");
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: 5 });
  });

  it("does not cache failures", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 1000 });
    await expect(cache.get("later")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await inner.put("later", bytes("here now"));
    expect(text(await cache.get("later"))).toBe("here now");
  });

  it("shares one fetch among concurrent reads of the same bytes", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 1000 });
    await cache.put("k", bytes("shared"));
    const release = inner.hold();
    const reads = [
      cache.get("k"),
      cache.get("k"),
      cache.get("k"),
      cache.getRange("k", 0, 2),
      cache.getRange("k", 0, 2),
    ];
    await settle();
    release();
    const results = await Promise.all(reads);

    expect(results.map(text)).toEqual(["shared", "shared", "shared", "sh", "sh"]);
    expect(inner.reads).toEqual(["get k", "getRange k 0-2"]);
    expect(cache.stats()).toMatchObject({ misses: 2, coalesced: 3, hits: 0 });
    // Each reader still got its own bytes.
    results[0]!.fill(0);
    expect(text(results[1]!)).toBe("shared");
  });

  it("shares a failed fetch's error with every waiting read", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 1000 });
    const release = inner.hold();
    const reads = [cache.get("missing"), cache.get("missing")];
    await settle();
    release();
    const outcomes = await Promise.allSettled(reads);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(ObjectNotFoundError);
    }
    expect(inner.reads).toEqual(["get missing"]);
  });

  it("neither caches nor shares a fetch that was running when its key was put", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 1000 });
    await cache.put("k", bytes("old"));
    const release = inner.hold();
    const before = cache.get("k");
    await settle();
    // The put resolves while the read that began before it is still fetching.
    await cache.put("k", bytes("new"));
    inner.stopHolding();
    expect(text(await cache.get("k"))).toBe("new");
    release();
    expect(text(await before)).toBe("old");
    // The late answer of the old fetch did not replace the new object in the cache.
    expect(text(await cache.get("k"))).toBe("new");
    expect(inner.reads).toEqual(["get k", "get k"]);
    expect(cache.stats()).toMatchObject({ misses: 2, hits: 1, entries: 1, bytes: 3 });
  });

  it("passes head and list through and closes the wrapped store", async () => {
    const cache = new CachedObjectStore(inner, { capacityBytes: 1000 });
    await cache.put("p/a", bytes("a"));
    expect((await cache.head("p/a"))?.size).toBe(1);
    const keys: string[] = [];
    for await (const meta of cache.list("p/")) keys.push(meta.key);
    expect(keys).toEqual(["p/a"]);
    await cache.close();
    expect(inner.closed).toBe(true);
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it("rejects a capacity that is not a non-negative integer", () => {
    expect(() => new CachedObjectStore(inner, { capacityBytes: -1 })).toThrow(RangeError);
    expect(() => new CachedObjectStore(inner, { capacityBytes: 1.5 })).toThrow(RangeError);
  });
});
