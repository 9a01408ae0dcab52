import type { Logger } from "pino";
import type { ColumnBatch } from "../batch/column-batch.js";
import { TableManifest, type SstFileEntry } from "../manifest/index.js";
import { CHUNK_OVERHEAD_BYTES, COLUMN_OVERHEAD_BYTES, MemoryTracker } from "../memtable/index.js";
import type { ObjectStore } from "../object-store/object-store.js";
import { SstEncoderPool, SstWriter } from "../sst/index.js";
import { DecodedColumnCache, type DecodedCacheStats } from "../sst/decoded-cache.js";
import { formatTableOptions, parseTableOptions, type TableOptions } from "../table/options.js";
import type { ColumnSchemaInput, TableSchema } from "../table/schema.js";
import type { WalManager, WalUsage } from "../wal/wal.js";
import { invalidNameReason, StandaloneCatalog, type CatalogTable } from "./catalog.js";
import {
  CompactionScheduler,
  expiredBefore,
  removeOrphanSsts,
  resolveCompactionOptions,
  SstFileReferences,
  type CompactionJobResult,
  type CompactionOptions,
  type CompactionStats,
} from "./compaction/index.js";
import { WriteError } from "./errors.js";
import { flushMemtable, type FlushContext } from "./flush.js";
import { StorageLayout } from "./layout.js";
import type { TagFilter } from "./row-filter.js";
import { TableScan, type ScanRequest } from "./scan.js";
import { timeExtentOf, type TimeExtent } from "./time-extent.js";
import { KeyedSerialQueue } from "../util/serial.js";
import { removeDroppedTables } from "./dropped-tables.js";
import { ReplayError, Shard } from "./shard.js";
import { Table } from "./table.js";
import { prepareWrite, type WritePolicy, type WriteRows } from "./write-validation.js";

export interface StorageEngineOptions {
  /** Root of every object key (design section 4). */
  readonly cluster: string;
  readonly store: ObjectStore;
  readonly walManager: WalManager;
  /** Memtable bytes of the whole instance above which the largest table is flushed. */
  readonly memoryBudgetBytes: number;
  /** Writes are refused (retryably) once memtables hold budget x this ratio. Default 1.5. */
  readonly hardLimitRatio?: number;
  /** A memtable older than this is flushed even if small. */
  readonly maxUnflushedAgeMs: number;
  /** How often the background flush check runs. */
  readonly flushCheckIntervalMs: number;
  readonly writePolicy: WritePolicy;
  /** Worker threads encoding SSTs; 0 encodes on the main thread. */
  readonly encoderWorkers: number;
  readonly logger: Logger;
  /** Compaction settings; absent ones take DEFAULT_COMPACTION_OPTIONS. */
  readonly compaction?: Partial<CompactionOptions>;
  /** Clock for table TTLs, ms since the epoch (default Date.now). */
  readonly now?: () => number;
  /**
   * Bytes of decoded SST columns kept for later reads (default DEFAULT_DECODED_CACHE_BYTES);
   * 0 turns the cache off.
   */
  readonly decodedCacheBytes?: number;
  /**
   * Put the rows of the SSTs that flushes and compactions write in the decoded column cache, so
   * that queries over fresh data find them there (default true; see DecodedCacheFill).
   */
  readonly prepopulateDecodedCache?: boolean;
  /**
   * The schemas new tables may be created in, by CREATE TABLE or a first write, besides those of
   * the tables the engine already holds; absent, any schema is accepted. A table in another schema
   * is refused as not found, so that a misspelt database name does not create tables of its own.
   */
  readonly schemas?: readonly string[];
}

export const DEFAULT_DECODED_CACHE_BYTES = 256 * 1024 * 1024;

/** Compaction counters, and what became of the SST files compaction removed. */
export interface EngineCompactionStats extends CompactionStats {
  readonly paused: boolean;
  /** Removed files still read by a running scan; deleted when it ends. */
  readonly sstsWaitingForScans: number;
  readonly sstsDeleted: number;
  /** Deletions that failed; those files are removed as orphans when the table is next opened. */
  readonly sstDeleteFailures: number;
}

/** What callers see of a table. */
export interface TableInfo {
  readonly id: number;
  readonly schemaName: string;
  readonly name: string;
  readonly shardId: number;
  readonly schema: TableSchema;
  readonly options: TableOptions;
}

/** A memtable flush that completed, as reported to `onFlush` listeners. */
export interface FlushEvent {
  /** `schema.table`. */
  readonly table: string;
  readonly rows: number;
  readonly files: number;
  readonly bytes: number;
  readonly ms: number;
}

export interface WriteResult {
  readonly rows: number;
  readonly sequence: number;
}

/** A table name that is not valid, or a table that does not exist (or already does). */
export class TableError extends Error {
  override readonly name = "TableError";
  readonly kind: "invalid_argument" | "not_found" | "already_exists";
  readonly table: string;

  constructor(kind: TableError["kind"], table: string, message: string) {
    super(`table ${table}: ${message}`);
    this.kind = kind;
    this.table = table;
  }
}

/**
 * What a write is counted as while it is admitted and not yet applied: about what its memtable
 * chunk will be counted as (memtable.ts): its fixed-width columns' bytes, a pointer per row of the
 * others, the tsid column the memtable adds and the chunk's overheads, without reading a string
 * (the distinct strings a chunk also counts are few: rows of a series share their tags).
 */
function admissionBytes(batch: ColumnBatch): number {
  let bytes = 8 * batch.numRows + CHUNK_OVERHEAD_BYTES + COLUMN_OVERHEAD_BYTES * (batch.columns.length + 1);
  for (const column of batch.columns) {
    const values = column.values;
    bytes +=
      (column.validity?.byteLength ?? 0) + (Array.isArray(values) ? 8 * values.length : values.byteLength);
  }
  return bytes;
}

/** Standalone mode has one shard holding every table. */
const STANDALONE_SHARD = 0;

/**
 * The storage engine of one instance: tables in shards, each write durable in the shard's WAL before
 * it is acknowledged, memtables flushed to Parquet SSTs in object storage and tracked by per-table
 * manifests, and recovery by replaying the WAL from the smallest flushed sequence.
 */
export class StorageEngine {
  readonly layout: StorageLayout;
  readonly memory: MemoryTracker;
  readonly #options: StorageEngineOptions;
  readonly #catalog: StandaloneCatalog;
  readonly #shard: Shard;
  readonly #tables = new Map<number, Table>();
  readonly #encoderPool: SstEncoderPool | undefined;
  readonly #flushContext: FlushContext;
  readonly #references: SstFileReferences;
  readonly #compaction: CompactionScheduler;
  readonly #now: () => number;
  readonly #decodedCache: DecodedColumnCache | undefined;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #background = new Set<Promise<unknown>>();
  /** Creates of one table name run one at a time (see createTable). */
  readonly #creates = new KeyedSerialQueue();
  readonly #flushListeners = new Set<(event: FlushEvent) => void>();
  /** See StorageEngineOptions.schemas; undefined accepts any schema. */
  readonly #schemas: Set<string> | undefined;

  private constructor(
    options: StorageEngineOptions,
    layout: StorageLayout,
    catalog: StandaloneCatalog,
    shard: Shard,
    encoderPool: SstEncoderPool | undefined,
    compactionOptions: CompactionOptions,
  ) {
    this.#options = options;
    this.#schemas = options.schemas === undefined ? undefined : new Set(options.schemas);
    this.layout = layout;
    this.#catalog = catalog;
    this.#shard = shard;
    this.#encoderPool = encoderPool;
    this.#log = options.logger;
    this.memory = new MemoryTracker({
      budgetBytes: options.memoryBudgetBytes,
      ...(options.hardLimitRatio === undefined ? {} : { hardLimitRatio: options.hardLimitRatio }),
    });
    const cacheBytes = options.decodedCacheBytes ?? DEFAULT_DECODED_CACHE_BYTES;
    this.#decodedCache = cacheBytes > 0 ? new DecodedColumnCache(cacheBytes) : undefined;
    // Flushes and compactions put the rows they write in the cache (see DecodedCacheFill).
    const fill =
      this.#decodedCache !== undefined && options.prepopulateDecodedCache !== false
        ? { decodedCache: this.#decodedCache }
        : {};
    this.#flushContext = {
      store: options.store,
      layout,
      sstWriter: new SstWriter(encoderPool === undefined ? {} : { pool: encoderPool }),
      // The TTL clock: a flush skips rows already past the table's TTL.
      now: options.now ?? Date.now,
      ...fill,
    };
    this.#now = options.now ?? Date.now;
    this.#references = new SstFileReferences({
      // A retired SST (compacted away, expired) is read no more: its decoded columns go with it.
      deleteObject: (key) => {
        this.#decodedCache?.forgetObject(key);
        return options.store.delete(key);
      },
      logger: options.logger,
    });
    this.#compaction = new CompactionScheduler({
      options: compactionOptions,
      tables: () => this.#tables.values(),
      context: {
        store: options.store,
        layout,
        sstWriter: this.#flushContext.sstWriter,
        now: this.#now,
        retire: (files) => this.#references.retire(files),
        ...fill,
      },
      logger: options.logger,
    });
  }

  /**
   * Opens the catalog and every table's manifest, removes SST objects the manifests do not list
   * (left by a crash), then replays the WAL; ready for reads and writes.
   */
  static async open(options: StorageEngineOptions): Promise<StorageEngine> {
    const compactionOptions = resolveCompactionOptions(options.compaction);
    const layout = new StorageLayout(options.cluster);
    const catalog = await StandaloneCatalog.load(options.store, layout);
    // Objects of tables dropped just before a crash (the catalog entry went, the objects stayed).
    try {
      await removeDroppedTables(options.store, layout, catalog, options.logger);
    } catch (error) {
      options.logger.warn(
        { err: error },
        "could not delete the objects of dropped tables; the next open tries again",
      );
    }
    const wal = await options.walManager.open(STANDALONE_SHARD);
    const shard = new Shard(STANDALONE_SHARD, wal);
    const pool =
      options.encoderWorkers > 0 ? new SstEncoderPool({ workers: options.encoderWorkers }) : undefined;
    const engine = new StorageEngine(options, layout, catalog, shard, pool, compactionOptions);
    try {
      for (const entry of catalog.list()) {
        const manifest = await TableManifest.load(options.store, layout.manifestPrefix(entry.id));
        if (manifest === undefined) {
          throw new Error(
            `table ${entry.schemaName}.${entry.name} (id ${entry.id}) is in the catalog but has no manifest`,
          );
        }
        await removeOrphans(options, layout, entry, manifest);
        engine.#register(new Table(entry, manifest));
      }
      checkWalCoversManifests(shard, engine.#tables.values());
      const started = performance.now();
      const stats = await shard.replay();
      for (const table of engine.#tables.values()) table.reportMemory(engine.memory);
      options.logger.info(
        { ...stats, tables: engine.#tables.size, ms: Math.round(performance.now() - started) },
        "WAL replayed",
      );
      engine.#timer = setInterval(() => engine.#backgroundFlushCheck(), options.flushCheckIntervalMs);
      engine.#timer.unref();
      engine.#compaction.start();
      for (const table of engine.#tables.values()) engine.#compaction.requestCompaction(table);
      return engine;
    } catch (error) {
      await engine.#closeResources();
      throw error;
    }
  }

  // ---- catalog -------------------------------------------------------------------------------

  tables(schemaName?: string): TableInfo[] {
    return [...this.#tables.values()]
      .filter((t) => schemaName === undefined || t.identity.schemaName === schemaName)
      .map(infoOf)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  table(schemaName: string, name: string): TableInfo | undefined {
    const table = this.#lookup(schemaName, name);
    return table === undefined ? undefined : infoOf(table);
  }

  /** Creates a table; with `ifNotExists` an existing table is returned as it is. */
  async createTable(
    schemaName: string,
    name: string,
    schema: TableSchema,
    rawOptions: Readonly<Record<string, string>> = {},
    ifNotExists = false,
  ): Promise<TableInfo> {
    this.#checkOpen();
    // Creates of one name run one at a time: concurrent first writes to a new table all create it.
    return this.#creates.run(`${schemaName}\u0000${name}`, () =>
      this.#createTable(schemaName, name, schema, rawOptions, ifNotExists),
    );
  }

  async #createTable(
    schemaName: string,
    name: string,
    schema: TableSchema,
    rawOptions: Readonly<Record<string, string>>,
    ifNotExists: boolean,
  ): Promise<TableInfo> {
    const qualified = `${schemaName}.${name}`;
    const bad = invalidNameReason("schema", schemaName) ?? invalidNameReason("table", name);
    if (bad !== undefined) throw new TableError("invalid_argument", qualified, bad);
    const existing = this.#lookup(schemaName, name);
    if (existing !== undefined) {
      if (ifNotExists) return infoOf(existing);
      throw new TableError("already_exists", qualified, "already exists");
    }
    const unknownSchema = this.#unknownSchemaReason(schemaName);
    if (unknownSchema !== undefined) throw new TableError("not_found", qualified, unknownSchema);
    const options = parseTableOptions(rawOptions, undefined, qualified);
    const id = await this.#catalog.allocateId();
    const manifest = await TableManifest.create(this.#options.store, this.layout.manifestPrefix(id), {
      schema: schema.toJSON(),
      options: formatTableOptions(options),
      // Nothing of this table is in the WAL yet, so it need not hold back WAL truncation.
      flushedSequence: this.#shard.wal.nextSequence() - 1,
    });
    // Another create of the same name may have won while this one awaited.
    const raced = this.#lookup(schemaName, name);
    if (raced !== undefined) {
      if (ifNotExists) return infoOf(raced);
      throw new TableError("already_exists", qualified, "already exists");
    }
    const entry = await this.#catalog.add({ id, schemaName, name, shardId: this.#shard.id });
    const table = new Table(entry, manifest);
    this.#register(table);
    this.#log.info({ table: qualified, id }, "table created");
    return infoOf(table);
  }

  /** Drops a table: it disappears at once; its objects are deleted in the background. */
  async dropTable(schemaName: string, name: string, ifExists = false): Promise<boolean> {
    this.#checkOpen();
    const table = this.#lookup(schemaName, name);
    if (table === undefined) {
      if (ifExists) return false;
      throw new TableError("not_found", `${schemaName}.${name}`, "does not exist");
    }
    await this.#catalog.drop(schemaName, name);
    table.dropped = true;
    this.#tables.delete(table.identity.id);
    this.#shard.removeTable(table.identity.id);
    table.reportMemory(this.memory);
    // A flush or compaction already running may still write under the table's prefix: delete after.
    this.#track(
      (async () => {
        await table.flushing?.catch(() => undefined);
        await this.#compaction.idle(table);
        await this.#deleteObjects(this.layout.tablePrefix(table.identity.id));
      })(),
    );
    this.#log.info({ table: table.qualifiedName, id: table.identity.id }, "table dropped");
    return true;
  }

  async addColumns(
    schemaName: string,
    name: string,
    columns: readonly ColumnSchemaInput[],
  ): Promise<TableInfo> {
    const table = this.#require(schemaName, name);
    await table.alterSchema((current) => current.withAddedColumns(columns, table.qualifiedName));
    return infoOf(table);
  }

  async modifyOptions(
    schemaName: string,
    name: string,
    raw: Readonly<Record<string, string>>,
  ): Promise<TableInfo> {
    const table = this.#require(schemaName, name);
    const mode = raw["update_mode"];
    if (mode !== undefined && mode.toUpperCase() !== table.options.updateMode) {
      throw new TableError(
        "invalid_argument",
        table.qualifiedName,
        "update_mode cannot be changed after creation",
      );
    }
    await table.alterOptions(raw);
    return infoOf(table);
  }

  // ---- data ----------------------------------------------------------------------------------

  /**
   * Writes rows to a table (creating it, or adding columns, when the policy allows). Resolves once
   * the rows are durable in the WAL and visible to reads. Nothing is applied if validation fails.
   */
  async write(
    schemaName: string,
    name: string,
    rows: WriteRows,
    policy = this.#options.writePolicy,
  ): Promise<WriteResult> {
    this.#checkOpen();
    const qualified = `${schemaName}.${name}`;
    const release = this.memory.admit(admissionBytes(rows.batch));
    if (release === undefined) {
      const inFlight = this.memory.admittedBytes;
      throw new WriteError(
        "resource_exhausted",
        qualified,
        `memtables hold ${this.memory.totalBytes} bytes` +
          (inFlight > 0 ? ` and writes being applied about ${inFlight} more` : "") +
          ", over the write limit; retry after flushes catch up",
      );
    }
    try {
      return await this.#admittedWrite(schemaName, name, qualified, rows, policy);
    } finally {
      release();
    }
  }

  async #admittedWrite(
    schemaName: string,
    name: string,
    qualified: string,
    rows: WriteRows,
    policy: WritePolicy,
  ): Promise<WriteResult> {
    let table = this.#lookup(schemaName, name);
    // The request's schema is checked before its rows: a misspelt database fails every table alike.
    if (table === undefined && invalidNameReason("schema", schemaName) === undefined) {
      const unknownSchema = this.#unknownSchemaReason(schemaName);
      if (unknownSchema !== undefined) throw new WriteError("not_found", qualified, unknownSchema);
    }
    let prepared = prepareWrite(qualified, table?.schema, rows, policy);
    if (table === undefined) {
      const bad = invalidNameReason("schema", schemaName) ?? invalidNameReason("table", name);
      if (bad !== undefined) throw new WriteError("invalid_argument", qualified, bad);
      await this.createTable(schemaName, name, prepared.schema, {}, true);
      table = this.#require(schemaName, name);
      prepared = prepareWrite(qualified, table.schema, rows, policy);
    }
    if (prepared.schemaChanged) {
      const target = table;
      // Re-validate against the schema current under the lock: a concurrent write may have changed it.
      await target.alterSchema((current) => prepareWrite(qualified, current, rows, policy).schema);
      prepared = prepareWrite(qualified, target.schema, rows, policy);
    }
    const sequence = await this.#shard.write(table, prepared);
    table.reportMemory(this.memory);
    this.#maybeFlushAfterWrite(table);
    return { rows: prepared.batch.numRows, sequence };
  }

  /**
   * Reads a table; the view is fixed when this is called, and rows past the table's TTL at that
   * moment are hidden. The scan pins the SST files of its view until it is iterated to the end,
   * fails, is returned early, or is closed (`TableScan.close()`, for a scan that is never iterated;
   * otherwise the files stay until the scan is garbage-collected).
   */
  scan(schemaName: string, name: string, request: ScanRequest = {}): TableScan {
    const table = this.#require(schemaName, name);
    // View and pins are taken in one synchronous step: see SstFileReferences.
    const ssts = [...table.manifest.state.ssts.values()];
    const release = this.#references.pin(ssts);
    try {
      return new TableScan(
        this.#options.store,
        {
          schema: table.schema,
          updateMode: table.options.updateMode,
          memtable: table.memtables.snapshot(),
          ssts,
          expiredBefore: expiredBefore(table.options, this.#now()),
        },
        request,
        release,
        { decodedCache: this.#decodedCache },
      );
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Where a table's rows lie in time now, from its memtables and its SSTs' time ranges, without
   * reading a file (see timeExtentOf): rows past the TTL left out, and SST row groups whose tag
   * statistics rule out `tagFilter`. Undefined when a scan with that filter can return nothing.
   */
  timeExtent(schemaName: string, name: string, tagFilter?: TagFilter): TimeExtent | undefined {
    const table = this.#require(schemaName, name);
    return timeExtentOf(
      {
        memtables: [...table.memtables.immutables, table.memtables.mutable],
        ssts: table.manifest.state.ssts.values(),
        expiredBefore: expiredBefore(table.options, this.#now()),
      },
      tagFilter,
    );
  }

  /** What the shard's WAL has written since the engine opened, and what it holds now. */
  walUsage(): WalUsage {
    return this.#shard.wal.usage();
  }

  /** Counters and size of the decoded SST column cache; undefined when it is off. */
  decodedCacheStats(): DecodedCacheStats | undefined {
    return this.#decodedCache?.stats();
  }

  /** The SST files of a table as its manifest lists them now. */
  sstFiles(schemaName: string, name: string): SstFileEntry[] {
    return [...this.#require(schemaName, name).manifest.state.ssts.values()];
  }

  /** Flushes one table, or every table, and truncates the WAL below what is still needed. */
  async flush(schemaName?: string, name?: string): Promise<void> {
    this.#checkOpen();
    const targets =
      schemaName !== undefined && name !== undefined
        ? [this.#require(schemaName, name)]
        : [...this.#tables.values()];
    await Promise.all(targets.map((t) => this.#flushTable(t)));
    await this.#shard.truncateWal();
  }

  /**
   * Compacts one table, the tables of one schema, or every table, until the picker finds nothing
   * more to do (also while background compaction is paused). Resolves with the jobs run.
   */
  async compact(schemaName?: string, name?: string): Promise<CompactionJobResult[]> {
    this.#checkOpen();
    const targets =
      schemaName !== undefined && name !== undefined
        ? [this.#require(schemaName, name)]
        : [...this.#tables.values()].filter(
            (t) => schemaName === undefined || t.identity.schemaName === schemaName,
          );
    return this.#compaction.compact(targets);
  }

  /** Pauses or resumes background compaction (the `paused` compaction option at open). */
  setCompactionPaused(paused: boolean): void {
    this.#compaction.setPaused(paused);
  }

  compactionStats(): EngineCompactionStats {
    const deletions = this.#references.deletions;
    return {
      ...this.#compaction.stats(),
      paused: this.#compaction.paused,
      sstsWaitingForScans: this.#references.waitingForRelease,
      sstsDeleted: deletions.deleted,
      sstDeleteFailures: deletions.failed,
    };
  }

  /** Calls `listener` with each compaction job that committed; returns a function that removes it. */
  onCompaction(listener: (result: CompactionJobResult) => void): () => void {
    return this.#compaction.onJob(listener);
  }

  /** Calls `listener` after each memtable flushed; returns a function that removes it. */
  onFlush(listener: (event: FlushEvent) => void): () => void {
    this.#flushListeners.add(listener);
    return () => this.#flushListeners.delete(listener);
  }

  /**
   * Stops background work and releases files; unflushed rows stay in the WAL for the next open. A
   * compaction running is stopped before its commit. Files removed by compaction that scans still
   * read are left for the orphan cleanup of the next open.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#compaction.close();
    await Promise.allSettled([...this.#background]);
    await Promise.allSettled([...this.#tables.values()].map((t) => t.settled()));
    await this.#references.close();
    await this.#closeResources();
  }

  // ---- internals -----------------------------------------------------------------------------

  #register(table: Table): void {
    this.#tables.set(table.identity.id, table);
    this.#shard.addTable(table);
    this.#schemas?.add(table.identity.schemaName);
  }

  /** Why a new table cannot be created in `schemaName`, or undefined if it can. */
  #unknownSchemaReason(schemaName: string): string | undefined {
    const schemas = this.#schemas;
    if (schemas === undefined || schemas.has(schemaName)) return undefined;
    return `schema ${schemaName} does not exist (this instance has ${[...schemas].sort().join(", ")})`;
  }

  #lookup(schemaName: string, name: string): Table | undefined {
    const entry = this.#catalog.get(schemaName, name);
    return entry === undefined ? undefined : this.#tables.get(entry.id);
  }

  #require(schemaName: string, name: string): Table {
    const table = this.#lookup(schemaName, name);
    if (table === undefined) throw new TableError("not_found", `${schemaName}.${name}`, "does not exist");
    return table;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("the storage engine is closed");
  }

  #flushTable(table: Table): Promise<void> {
    if (table.flushing !== undefined) {
      // Join the running flush, then flush what arrived meanwhile.
      return table.flushing.then(() => this.#flushTable(table));
    }
    const run = (async () => {
      table.memtables.switchMemtable();
      table.reportMemory(this.memory);
      for (const frozen of table.memtables.immutables) {
        if (table.dropped) return;
        const started = performance.now();
        const result = await flushMemtable(table, frozen, this.#flushContext);
        table.reportMemory(this.memory);
        const event: FlushEvent = {
          table: table.qualifiedName,
          rows: result.rows,
          files: result.files.length,
          bytes: result.files.reduce((sum, f) => sum + f.size, 0),
          ms: performance.now() - started,
        };
        this.#log.info(
          { ...event, flushedSequence: result.flushedSequence, ms: Math.round(event.ms) },
          "memtable flushed",
        );
        for (const listener of this.#flushListeners) {
          try {
            listener(event);
          } catch (error) {
            this.#log.warn({ err: error }, "flush listener failed");
          }
        }
      }
      this.#compaction.requestCompaction(table);
    })();
    table.flushing = run.finally(() => {
      table.flushing = undefined;
    });
    return table.flushing;
  }

  #maybeFlushAfterWrite(table: Table): void {
    if (table.memtables.mutable.byteSize >= table.options.writeBufferSize) this.#flushInBackground(table);
    if (this.memory.needsFlush) {
      for (const id of this.memory.tablesToFlush()) {
        const target = this.#tables.get(id);
        if (target !== undefined) this.#flushInBackground(target);
      }
    }
  }

  #backgroundFlushCheck(): void {
    const now = Date.now();
    for (const table of this.#tables.values()) {
      const mutable = table.memtables.mutable;
      const old = !mutable.isEmpty && now - mutable.createdAt >= this.#options.maxUnflushedAgeMs;
      if (old || table.memtables.immutables.length > 0) this.#flushInBackground(table);
    }
  }

  #flushInBackground(table: Table): void {
    if (this.#closed || table.flushing !== undefined) return;
    this.#track(
      this.#flushTable(table)
        .then(() => this.#shard.truncateWal())
        .catch((error: unknown) => {
          this.#log.error({ err: error, table: table.qualifiedName }, "flush failed; will retry");
        }),
    );
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => this.#log.error({ err: error }, "background task failed"));
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }

  async #deleteObjects(prefix: string): Promise<void> {
    const keys: string[] = [];
    for await (const meta of this.#options.store.list(prefix)) keys.push(meta.key);
    for (const key of keys) {
      this.#decodedCache?.forgetObject(key);
      await this.#options.store.delete(key);
    }
  }

  async #closeResources(): Promise<void> {
    await this.#encoderPool?.close();
    await this.#options.walManager.close();
    await this.#options.store.close();
  }
}

/** Deletes SST objects of a table its manifest does not list; a failure only delays that to the next open. */
async function removeOrphans(
  options: StorageEngineOptions,
  layout: StorageLayout,
  entry: CatalogTable,
  manifest: TableManifest,
): Promise<void> {
  const table = `${entry.schemaName}.${entry.name}`;
  try {
    const removed = await removeOrphanSsts(options.store, layout, entry.id, manifest.state);
    if (removed.length > 0) {
      options.logger.info(
        { table, removed: removed.length },
        "removed SST objects the manifest does not list",
      );
    }
  } catch (error) {
    options.logger.warn({ err: error, table }, "could not remove SST objects the manifest does not list");
  }
}

/**
 * Refuses to open when the WAL ends below a table's flushed sequence: WAL segments were lost or
 * replaced, so acknowledged rows would silently be missing, and new appends would reuse sequences
 * that replay then skips as already flushed.
 */
function checkWalCoversManifests(shard: Shard, tables: Iterable<Table>): void {
  const next = shard.wal.nextSequence();
  for (const table of tables) {
    if (table.flushedSequence >= next) {
      throw new ReplayError(
        shard.id,
        next,
        `the WAL ends before sequence ${next}, but table ${table.qualifiedName} has flushed up to sequence ${table.flushedSequence}: WAL segments are missing`,
      );
    }
  }
}

function infoOf(table: Table): TableInfo {
  // Named fields rather than a spread: one object shape, and every query plans through here.
  const { id, schemaName, name, shardId } = table.identity;
  return { id, schemaName, name, shardId, schema: table.schema, options: table.options };
}
