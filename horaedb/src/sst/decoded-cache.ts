/**
 * A cache of decoded SST columns. SST objects are immutable (a key is never rewritten, and the
 * entries are also keyed by the file's checksum), so a column of a row group, once decoded, can
 * serve every later read of it: no fetch, no checksum, no Parquet decoding. Entries are kept in an
 * LRU bounded by bytes; the entries of a file that is deleted (compaction, DROP TABLE) are dropped
 * with it (`forgetObject`).
 *
 * Cached columns are shared by every scan that reads them, so nothing may modify a column's arrays
 * in place (columns are never modified once built anywhere in the engine).
 *
 * The cache also remembers which files passed their checksum, so that a file is verified on its
 * first fetch and not on every later one, and the series runs of each row group (series-runs.ts).
 */
import { DataType } from "../table/data-type.js";
import type { Column } from "../batch/column.js";
import type { SeriesRuns } from "./series-runs.js";

/** Counters since the cache was created, and its current size. */
export interface DecodedCacheStats {
  /** Column chunks (one column of one row group) served from the cache. */
  readonly hits: number;
  /** Column chunks that had to be decoded. */
  readonly misses: number;
  /** Column chunks that waited for a decode another read had already started. */
  readonly coalesced: number;
  /** Entries dropped to make room for newer ones. */
  readonly evictions: number;
  readonly entries: number;
  readonly bytes: number;
  readonly capacityBytes: number;
}

interface CacheEntry {
  readonly value: Column | SeriesRuns | null;
  readonly bytes: number;
  /** Read since it was last passed by the eviction hand (second-chance LRU). */
  used: boolean;
  readonly remove: () => void;
}

/** The entries of one file: per row group, its columns by name and its series runs. */
interface FileEntries {
  readonly columns: Array<Map<string, CacheEntry> | undefined>;
  readonly runs: Array<CacheEntry | undefined>;
  size: number;
}

/** Decodes of column chunks in flight, so that concurrent reads of a row group decode it once. */
export interface DecodeTicket {
  /** Hands the decoded columns (by name) to the reads waiting for them, and caches them. */
  resolve(columns: ReadonlyMap<string, Column>): void;
  reject(error: unknown): void;
}

/** Files remembered as verified; a few bytes each, bounded separately from the columns. */
const MAX_VERIFIED_FILES = 100_000;
/** Per-entry overhead: the map entry, its key string and the Column record. */
const ENTRY_OVERHEAD_BYTES = 160;

/**
 * Eviction is second-chance LRU: a hit only marks its entry, and the eviction hand, going from the
 * oldest entry on, gives a marked entry one more round instead of dropping it. Lookups go through
 * maps keyed by strings the caller keeps (file id, column name), so a hit builds no key.
 */
export class DecodedColumnCache {
  readonly capacityBytes: number;
  readonly #files = new Map<string, FileEntries>();
  /** The file ids (key and checksum) with entries, by object key: what `forgetObject` drops. */
  readonly #fileIdsOf = new Map<string, Set<string>>();
  /** Every entry, oldest first (a Set keeps insertion order). */
  readonly #order = new Set<CacheEntry>();
  readonly #pending = new Map<string, Promise<Column>>();
  readonly #verified = new Set<string>();
  #bytes = 0;
  readonly #counters = { hits: 0, misses: 0, coalesced: 0, evictions: 0 };

  constructor(capacityBytes: number) {
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 0) {
      throw new RangeError(`capacityBytes must be a non-negative integer, got ${capacityBytes}`);
    }
    this.capacityBytes = capacityBytes;
  }

  /** The identity of one SST's content: its key and checksum. */
  static fileId(key: string, crc32c: string): string {
    return `${key}\u0000${crc32c}`;
  }

  stats(): DecodedCacheStats {
    return {
      ...this.#counters,
      entries: this.#order.size,
      bytes: this.#bytes,
      capacityBytes: this.capacityBytes,
    };
  }

  /** The cached column, or undefined (lookups are counted by `countLookups`). */
  column(file: string, group: number, name: string): Column | undefined {
    const entry = this.#files.get(file)?.columns[group]?.get(name);
    if (entry === undefined) return undefined;
    entry.used = true;
    return entry.value as Column;
  }

  /** A decode of the column already running, if any. */
  pending(file: string, group: number, name: string): Promise<Column> | undefined {
    return this.#pending.get(pendingKey(file, group, name));
  }

  countLookups(hits: number, misses: number, coalesced: number): void {
    this.#counters.hits += hits;
    this.#counters.misses += misses;
    this.#counters.coalesced += coalesced;
  }

  /**
   * Registers a decode of `names` of a row group: until it settles, reads of those columns wait for
   * it (see `pending`) rather than decode them again.
   */
  beginDecode(file: string, group: number, names: readonly string[]): DecodeTicket {
    const waiting = names.map((name) => {
      const key = pendingKey(file, group, name);
      let settle!: { resolve: (c: Column) => void; reject: (e: unknown) => void };
      const promise = new Promise<Column>((resolve, reject) => {
        settle = { resolve, reject };
      });
      // Nobody may be waiting: a failed decode must not become an unhandled rejection.
      promise.catch(() => undefined);
      this.#pending.set(key, promise);
      return { name, key, promise, settle };
    });
    const finish = () => {
      for (const w of waiting) if (this.#pending.get(w.key) === w.promise) this.#pending.delete(w.key);
    };
    return {
      resolve: (columns) => {
        // A decode of an object forgotten meanwhile (deleted) serves its reads but caches nothing.
        const current = waiting.map((w) => this.#pending.get(w.key) === w.promise);
        finish();
        waiting.forEach((w, i) => {
          const column = columns.get(w.name);
          if (column === undefined) {
            w.settle.reject(new Error(`decode of row group ${group} did not return column ${w.name}`));
            return;
          }
          if (current[i] === true) this.#putColumn(file, group, w.name, column);
          w.settle.resolve(column);
        });
      },
      reject: (error) => {
        finish();
        for (const w of waiting) w.settle.reject(error);
      },
    };
  }

  /**
   * Puts columns of a row group, in the form a read decodes them (decoded-form.ts), replacing any
   * cached ones: how a writer that still holds the rows fills the cache without decoding its file.
   */
  putColumns(file: string, group: number, columns: ReadonlyMap<string, Column>): void {
    for (const [name, column] of columns) this.#putColumn(file, group, name, column);
  }

  /** The row group's series runs: undefined when not cached, null when its rows have none. */
  runs(file: string, group: number): SeriesRuns | null | undefined {
    const entry = this.#files.get(file)?.runs[group];
    if (entry === undefined) return undefined;
    entry.used = true;
    return entry.value as SeriesRuns | null;
  }

  setRuns(file: string, group: number, runs: SeriesRuns | null): void {
    const bytes = (runs?.byteSize ?? 0) + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.capacityBytes) return;
    const entries = this.#fileEntries(file);
    entries.runs[group]?.remove();
    const entry = this.#entry(file, runs, bytes, () => {
      if (entries.runs[group] === entry) entries.runs[group] = undefined;
    });
    entries.runs[group] = entry;
    this.#evict();
  }

  /**
   * Drops every entry of the object `key` (whatever its checksum): called once the object is
   * deleted (compacted away, its table dropped), whose entries no read can ask for any more.
   */
  forgetObject(key: string): void {
    const prefix = `${key}\u0000`;
    for (const file of [...(this.#fileIdsOf.get(key) ?? [])]) {
      const entries = this.#files.get(file);
      for (const columns of entries?.columns ?? []) {
        for (const entry of [...(columns?.values() ?? [])]) entry.remove();
      }
      for (const entry of entries?.runs ?? []) entry?.remove();
      // Only the cached files' marks: the set holds up to MAX_VERIFIED_FILES, too many to scan per
      // deleted object, and a mark left behind costs a few bytes (keys are never used again).
      this.#verified.delete(file);
    }
    this.#fileIdsOf.delete(key);
    // A decode still running caches nothing once its pending entry is gone (see beginDecode).
    for (const pending of [...this.#pending.keys()])
      if (pending.startsWith(prefix)) this.#pending.delete(pending);
  }

  isVerified(file: string): boolean {
    return this.#verified.has(file);
  }

  markVerified(file: string): void {
    if (this.#verified.has(file)) return;
    if (this.#verified.size >= MAX_VERIFIED_FILES) {
      // The oldest remembered file is verified again on its next fetch: only a cost.
      const oldest = this.#verified.values().next().value;
      if (oldest !== undefined) this.#verified.delete(oldest);
    }
    this.#verified.add(file);
  }

  #putColumn(file: string, group: number, name: string, column: Column): void {
    const bytes = columnBytes(column);
    if (bytes > this.capacityBytes) return;
    const entries = this.#fileEntries(file);
    let columns = entries.columns[group];
    if (columns === undefined) {
      columns = new Map();
      entries.columns[group] = columns;
    }
    const byName = columns;
    byName.get(name)?.remove();
    const entry = this.#entry(file, column, bytes, () => {
      if (byName.get(name) === entry) byName.delete(name);
    });
    byName.set(name, entry);
    this.#evict();
  }

  #fileEntries(file: string): FileEntries {
    let entries = this.#files.get(file);
    if (entries === undefined) {
      entries = { columns: [], runs: [], size: 0 };
      this.#files.set(file, entries);
      const key = objectKeyOf(file);
      let ids = this.#fileIdsOf.get(key);
      if (ids === undefined) {
        ids = new Set();
        this.#fileIdsOf.set(key, ids);
      }
      ids.add(file);
    }
    return entries;
  }

  /** A new entry (of at most the capacity), counted and queued for eviction. */
  #entry(file: string, value: Column | SeriesRuns | null, bytes: number, unlink: () => void): CacheEntry {
    const entries = this.#fileEntries(file);
    const entry: CacheEntry = {
      value,
      bytes,
      used: false,
      remove: () => {
        if (!this.#order.delete(entry)) return;
        unlink();
        this.#bytes -= bytes;
        if (--entries.size === 0 && this.#files.get(file) === entries) {
          this.#files.delete(file);
          const key = objectKeyOf(file);
          const ids = this.#fileIdsOf.get(key);
          ids?.delete(file);
          if (ids?.size === 0) this.#fileIdsOf.delete(key);
        }
      },
    };
    entries.size++;
    this.#order.add(entry);
    this.#bytes += bytes;
    return entry;
  }

  #evict(): void {
    while (this.#bytes > this.capacityBytes) {
      const oldest = this.#order.values().next().value;
      if (oldest === undefined) return;
      if (oldest.used) {
        // Second chance: to the back of the queue, unmarked.
        oldest.used = false;
        this.#order.delete(oldest);
        this.#order.add(oldest);
        continue;
      }
      oldest.remove();
      this.#counters.evictions++;
    }
  }
}

// File ids hold the key, which never contains NUL, then NUL and the checksum: these cannot collide.
function pendingKey(file: string, group: number, name: string): string {
  return `${file}\u0000${group}\u0000${name}`;
}

/**
 * Roughly the heap bytes of `rows` rows of `columns` decoded columns, before they are decoded:
 * about 16 bytes per value, 8 for numbers and a pointer plus shared strings for tags.
 */
export function estimatedDecodedBytes(rows: number, columns: number): number {
  return rows * columns * 16;
}

/**
 * Heap bytes of a decoded column: exact for typed arrays; for strings a pointer per row plus each
 * value once per run of equal values (rows sorted by series repeat their tag values in runs).
 */
export function columnBytes(column: Column): number {
  const v = column.values;
  let bytes = ENTRY_OVERHEAD_BYTES + (column.validity?.byteLength ?? 0);
  if (!Array.isArray(v)) return bytes + v.byteLength;
  bytes += 8 * v.length;
  if (column.type === DataType.String) {
    let previous: string | undefined;
    for (const s of v as string[]) {
      if (s === previous) continue;
      previous = s;
      bytes += 2 * s.length + 24;
    }
  } else {
    for (const b of v as Uint8Array[]) bytes += b.byteLength + 64;
  }
  return bytes;
}

/** The object key of a file id (see `fileId`). */
function objectKeyOf(file: string): string {
  const end = file.indexOf("\u0000");
  return end < 0 ? file : file.slice(0, end);
}
