import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Logger } from "pino";
import type { SstFileEntry } from "../manifest/index.js";
import type { ObjectStore } from "../object-store/object-store.js";
import { estimatedDecodedBytes, type DecodedColumnCache } from "../sst/decoded-cache.js";
import { SstFileReader } from "../sst/reader.js";
import type { SstMeta } from "../sst/sst-meta.js";
import type { TableSchema } from "../table/schema.js";

/** Files waiting to be warmed; older ones are dropped beyond this (the newest data is the hottest). */
const MAX_QUEUED_FILES = 64;

interface QueuedFile {
  readonly file: SstFileEntry;
  readonly schema: TableSchema;
}

/**
 * Fills the decoded column cache with SSTs just written by a compaction, in the background, one
 * row group at a time with a turn of the event loop in between, so that the first queries over
 * fresh data do not pay for Parquet decoding (recent data is what time-series queries read most).
 * Like RocksDB's `prepopulate_block_cache`, but for decoded columns. (A flush puts the rows it
 * wrote in the cache itself, with no decoding: see flush.ts.)
 *
 * Best effort: a file deleted in the meantime (compacted away, table dropped) or unreadable is
 * skipped, and a read that needs it decodes it as usual. Warming stops when the cache would only
 * evict what it just filled: no more than the cache's capacity is queued.
 */
export class SstCacheWarmer {
  readonly #store: ObjectStore;
  readonly #cache: DecodedColumnCache;
  readonly #log: Logger;
  readonly #queue: QueuedFile[] = [];
  #running: Promise<void> | undefined;
  #closed = false;
  #warmedFiles = 0;

  constructor(store: ObjectStore, cache: DecodedColumnCache, logger: Logger) {
    this.#store = store;
    this.#cache = cache;
    this.#log = logger;
  }

  /** Files warmed since the engine opened. */
  get warmedFiles(): number {
    return this.#warmedFiles;
  }

  /** Queues new files of a table (its current schema) for warming. */
  warm(files: readonly SstFileEntry[], schema: TableSchema): void {
    if (this.#closed || files.length === 0) return;
    for (const file of files) this.#queue.push({ file, schema });
    while (this.#queue.length > MAX_QUEUED_FILES) this.#queue.shift();
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves once every queued file is warmed (or skipped). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Stops warming: the file being read is abandoned after its current row group. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    await this.#running;
  }

  async #drain(): Promise<void> {
    // Decoded columns are roughly the size of the file's rows in memory; stop at the capacity.
    let budget = this.#cache.capacityBytes;
    for (let next = this.#queue.pop(); next !== undefined && !this.#closed; next = this.#queue.pop()) {
      // Newest first: what was queued last is the freshest data.
      const { file, schema } = next;
      budget -= estimatedFileBytes(file);
      if (budget < 0) {
        this.#queue.length = 0;
        break;
      }
      await this.#warmFile(file, schema);
    }
  }

  async #warmFile(file: SstFileEntry, schema: TableSchema): Promise<void> {
    const meta = file.meta as SstMeta;
    const reader = new SstFileReader(this.#store, file.key, { meta, schema, cache: this.#cache });
    const columns = meta.columns.map((c) => c.name);
    try {
      for (let group = 0; group < meta.rowGroups.length && !this.#closed; group++) {
        await reader.rowGroup(group, columns);
        await yieldToEventLoop();
      }
      this.#warmedFiles++;
    } catch (error) {
      this.#log.debug({ err: error, file: file.key }, "warming the decoded cache skipped a file");
    } finally {
      reader.close();
    }
  }
}

function estimatedFileBytes(file: SstFileEntry): number {
  return estimatedDecodedBytes(file.rowCount, (file.meta as SstMeta).columns.length);
}
