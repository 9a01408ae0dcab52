import { clampedRangeLength, validateRangeBounds } from "./byte-range.js";
import type { ObjectMeta, ObjectStore, PutOptions } from "./object-store.js";

export interface CachedObjectStoreOptions {
  /** Most bytes of object data the cache holds; a result larger than this is never cached. */
  readonly capacityBytes: number;
}

/** Counters since the cache was created, and its current size. */
export interface ObjectCacheStats {
  /** Reads answered from the cache. */
  readonly hits: number;
  /** Reads that started a fetch from the wrapped store. */
  readonly misses: number;
  /** Reads that joined a fetch another read of the same bytes had already started. */
  readonly coalesced: number;
  /** Entries dropped to make room for newer ones (not counting invalidations). */
  readonly evictions: number;
  /** Fetched results not cached because they were larger than the capacity. */
  readonly bypasses: number;
  readonly entries: number;
  readonly bytes: number;
  readonly capacityBytes: number;
}

interface CacheEntry {
  readonly objectKey: string;
  readonly data: Uint8Array;
}

interface FetchState {
  /** Set when the object was put or deleted during the fetch: its result must not be cached. */
  stale: boolean;
  /** Reads that joined this fetch after the one that started it. */
  sharers: number;
}

interface InflightFetch {
  readonly result: Promise<{ data: Uint8Array; cached: boolean }>;
  readonly state: FetchState;
}

// Keys never contain NUL (object-key.ts), so these cache keys cannot collide.
const wholeObject = (key: string): string => `${key}\u0000`;
const byteRange = (key: string, start: number, end: number): string => `${key}\u0000${start}:${end}`;

/**
 * A bounded LRU read cache in front of another ObjectStore (design section 4: reads go through a
 * bounded cache). Whole-object gets and range gets are cached separately, keyed by key and range;
 * a range of a cached whole object is cut from it. put and delete of a key drop everything cached
 * for it, and fetches of it still running then are not cached, so a read that starts after a put or
 * delete resolves never sees the old object. Concurrent reads of the same bytes share one fetch.
 *
 * Every read returns its own copy, so a caller that modifies the bytes cannot corrupt the cache.
 * close() closes the wrapped store.
 */
export class CachedObjectStore implements ObjectStore {
  readonly inner: ObjectStore;
  private readonly capacityBytes: number;
  /** Cached results, least recently used first (Map keeps insertion order). */
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, InflightFetch>();
  /** Cache keys (cached or being fetched) of each object key, for invalidation. */
  private readonly cacheKeysByObject = new Map<string, Set<string>>();
  private bytes = 0;
  private readonly counters = { hits: 0, misses: 0, coalesced: 0, evictions: 0, bypasses: 0 };

  constructor(inner: ObjectStore, options: CachedObjectStoreOptions) {
    if (!Number.isSafeInteger(options.capacityBytes) || options.capacityBytes < 0) {
      throw new RangeError(`capacityBytes must be a non-negative integer, got ${options.capacityBytes}`);
    }
    this.inner = inner;
    this.capacityBytes = options.capacityBytes;
  }

  stats(): ObjectCacheStats {
    return {
      ...this.counters,
      entries: this.entries.size,
      bytes: this.bytes,
      capacityBytes: this.capacityBytes,
    };
  }

  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    try {
      await this.inner.put(key, data, options);
    } finally {
      // Also after a failure: the put may have happened even if its answer was lost.
      this.invalidate(key);
    }
  }

  get(key: string): Promise<Uint8Array> {
    return this.read(key, wholeObject(key), () => this.inner.get(key));
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    validateRangeBounds(key, start, end);
    const whole = this.entries.get(wholeObject(key));
    if (whole !== undefined) {
      this.counters.hits++;
      this.touch(wholeObject(key), whole);
      return whole.data.slice(start, start + clampedRangeLength(key, start, end, whole.data.length));
    }
    return this.read(key, byteRange(key, start, end), () => this.inner.getRange(key, start, end));
  }

  head(key: string): Promise<ObjectMeta | undefined> {
    return this.inner.head(key);
  }

  list(prefix: string): AsyncIterable<ObjectMeta> {
    return this.inner.list(prefix);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.inner.delete(key);
    } finally {
      this.invalidate(key);
    }
  }

  async close(): Promise<void> {
    for (const fetch of this.inflight.values()) fetch.state.stale = true;
    this.inflight.clear();
    this.entries.clear();
    this.cacheKeysByObject.clear();
    this.bytes = 0;
    await this.inner.close();
  }

  private async read(
    objectKey: string,
    cacheKey: string,
    fetch: () => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const entry = this.entries.get(cacheKey);
    if (entry !== undefined) {
      this.counters.hits++;
      this.touch(cacheKey, entry);
      return entry.data.slice();
    }
    const running = this.inflight.get(cacheKey);
    if (running !== undefined) {
      this.counters.coalesced++;
      running.state.sharers++;
      return (await running.result).data.slice();
    }
    this.counters.misses++;
    const started = this.startFetch(objectKey, cacheKey, fetch);
    const { data, cached } = await started.result;
    // The fetched array goes to this caller as is only if nobody else (cache or sharer) holds it.
    return cached || started.state.sharers > 0 ? data.slice() : data;
  }

  private startFetch(objectKey: string, cacheKey: string, fetch: () => Promise<Uint8Array>): InflightFetch {
    const state: FetchState = { stale: false, sharers: 0 };
    let fetching: Promise<Uint8Array>;
    try {
      fetching = fetch();
    } catch (error) {
      fetching = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    // The first await always yields, so the cleanup below runs after the registration further down.
    const result = (async () => {
      try {
        const data = await fetching;
        // Runs in the same turn as the removal from `inflight` below, so no read joins afterwards.
        const cached = !state.stale && this.insert(objectKey, cacheKey, data);
        return { data, cached };
      } finally {
        if (this.inflight.get(cacheKey)?.state === state) {
          this.inflight.delete(cacheKey);
          if (!this.entries.has(cacheKey)) this.unindex(objectKey, cacheKey);
        }
      }
    })();
    const record: InflightFetch = { result, state };
    this.inflight.set(cacheKey, record);
    this.index(objectKey, cacheKey);
    return record;
  }

  /** Caches `data` under `cacheKey`, evicting least recently used entries; false if it is too big. */
  private insert(objectKey: string, cacheKey: string, data: Uint8Array): boolean {
    if (data.byteLength > this.capacityBytes) {
      this.counters.bypasses++;
      return false;
    }
    const replaced = this.entries.get(cacheKey);
    if (replaced !== undefined) this.removeEntry(cacheKey, replaced);
    for (const [oldestKey, oldest] of this.entries) {
      if (this.bytes + data.byteLength <= this.capacityBytes) break;
      this.removeEntry(oldestKey, oldest);
      this.counters.evictions++;
    }
    this.entries.set(cacheKey, { objectKey, data });
    this.bytes += data.byteLength;
    this.index(objectKey, cacheKey);
    return true;
  }

  private touch(cacheKey: string, entry: CacheEntry): void {
    this.entries.delete(cacheKey);
    this.entries.set(cacheKey, entry);
  }

  private removeEntry(cacheKey: string, entry: CacheEntry): void {
    this.entries.delete(cacheKey);
    this.bytes -= entry.data.byteLength;
    if (!this.inflight.has(cacheKey)) this.unindex(entry.objectKey, cacheKey);
  }

  /** Drops every cached result of `objectKey` and keeps running fetches of it from being cached. */
  private invalidate(objectKey: string): void {
    const cacheKeys = this.cacheKeysByObject.get(objectKey);
    if (cacheKeys === undefined) return;
    this.cacheKeysByObject.delete(objectKey);
    for (const cacheKey of cacheKeys) {
      const entry = this.entries.get(cacheKey);
      if (entry !== undefined) {
        this.entries.delete(cacheKey);
        this.bytes -= entry.data.byteLength;
      }
      const fetch = this.inflight.get(cacheKey);
      if (fetch !== undefined) {
        fetch.state.stale = true;
        this.inflight.delete(cacheKey);
      }
    }
  }

  private index(objectKey: string, cacheKey: string): void {
    let cacheKeys = this.cacheKeysByObject.get(objectKey);
    if (cacheKeys === undefined) {
      cacheKeys = new Set();
      this.cacheKeysByObject.set(objectKey, cacheKeys);
    }
    cacheKeys.add(cacheKey);
  }

  private unindex(objectKey: string, cacheKey: string): void {
    const cacheKeys = this.cacheKeysByObject.get(objectKey);
    if (cacheKeys === undefined) return;
    cacheKeys.delete(cacheKey);
    if (cacheKeys.size === 0) this.cacheKeysByObject.delete(objectKey);
  }
}
