/**
 * Reading an SST: prune row groups by SstMeta statistics, then decode only the selected row groups
 * and projected columns into ColumnBatches.
 *
 * The whole object is fetched with one `get` and verified before parquet-wasm sees any of it (a
 * damaged file can make parquet-wasm trap). Decoding then goes through parquet-wasm's async reader
 * over the in-memory bytes, which copies into WebAssembly only the column chunks it needs.
 *
 * With a decoded column cache (decoded-cache.ts), columns already decoded are taken from it and only
 * the missing ones are decoded; a file whose every needed column is cached is not fetched at all,
 * and a file's checksum is verified on its first fetch only.
 */
import { tableFromIPC } from "apache-arrow";
import { nullColumn, type Column, type ColumnValues } from "../batch/column.js";
import { viewRows, type ColumnBatch } from "../batch/column-batch.js";
import type { TimeRange } from "../memtable/snapshot.js";
import { ObjectNotFoundError } from "../object-store/errors.js";
import type { ObjectStore } from "../object-store/object-store.js";
import type { TableSchema } from "../table/schema.js";
import { arrowToColumnBatch } from "./arrow-convert.js";
import { verifyChecksum } from "./checksum.js";
import { concatBatches } from "./column-concat.js";
import { DecodedColumnCache } from "./decoded-cache.js";
import {
  SstColumnNotFoundError,
  SstCorruptionError,
  SstDecodeError,
  SstMetaFormatError,
  SstNotFoundError,
} from "./errors.js";
import { discardOnTrap, freeQuietly, parquetWasm, type WasmParquetFile } from "./parquet-wasm.js";
import { selectRowGroups, type SstPruneOptions, type TagFilter } from "./pruning.js";
import { computeSeriesRuns, type SeriesRuns } from "./series-runs.js";
import { parseSstMeta, SST_META_KEY, type SstMeta } from "./sst-meta.js";

type ParquetFile = WasmParquetFile;

export interface SstReadOptions {
  /** The file's SstMeta as the manifest recorded it; read from the file's footer when absent. */
  readonly meta?: SstMeta | undefined;
  /** Output columns, in this order; every column of the file when absent. */
  readonly projection?: readonly string[] | undefined;
  /**
   * The table's current schema: projected columns the file predates come out as nulls. Without it,
   * projecting a column the file lacks is an SstColumnNotFoundError.
   */
  readonly schema?: TableSchema | undefined;
  /** Only row groups that may hold `start <= timestamp < end`. */
  readonly timeRange?: TimeRange | undefined;
  /** Only row groups that may hold these tag values. */
  readonly tagFilter?: TagFilter | undefined;
  /** Rows per output batch; default: one batch per row group. */
  readonly batchSize?: number | undefined;
  /**
   * Decoded columns shared between reads (used only with `meta`, whose checksum identifies the
   * file's content). Without it every read fetches, verifies and decodes.
   */
  readonly cache?: DecodedColumnCache | undefined;
}

/**
 * Counters of one scan, for EXPLAIN ANALYZE. Pruning is by row group: rows of a selected row group
 * are all returned, including rows outside the time range or tag filter, which the caller filters.
 */
export interface SstScanMetrics {
  rowGroupsTotal: number;
  /** Skipped by statistics without decoding. */
  rowGroupsPruned: number;
  rowGroupsRead: number;
  rowsRead: number;
  /** Bytes fetched from the object store. */
  bytesRead: number;
  /** Column chunks (one column of one row group) found in the decoded column cache. */
  cacheHits: number;
  /** Column chunks decoded (or waited for while another read decoded them). */
  cacheMisses: number;
}

function emptyMetrics(): SstScanMetrics {
  return {
    rowGroupsTotal: 0,
    rowGroupsPruned: 0,
    rowGroupsRead: 0,
    rowsRead: 0,
    bytesRead: 0,
    cacheHits: 0,
    cacheMisses: 0,
  };
}

/**
 * The names of a file's columns, built once per SstMeta object: a scan opens a reader per SST, and
 * the manifest keeps one meta per file for as long as the file is listed.
 */
const columnNamesByMeta = new WeakMap<SstMeta, ReadonlySet<string>>();

function columnsInFile(meta: SstMeta): ReadonlySet<string> {
  let names = columnNamesByMeta.get(meta);
  if (names === undefined) {
    names = new Set(meta.columns.map((c) => c.name));
    columnNamesByMeta.set(meta, names);
  }
  return names;
}

/**
 * Row-group access to one SST: whole row groups, decoded column by column on demand (through the
 * decoded column cache when there is one), and their series runs. The object is fetched, verified
 * and opened only when some column is not cached, at most once per reader. `close()` frees it.
 */
export class SstFileReader {
  readonly key: string;
  readonly metrics: SstScanMetrics = emptyMetrics();
  readonly #store: ObjectStore;
  readonly #schema: TableSchema | undefined;
  readonly #cache: DecodedColumnCache | undefined;
  /** The file's identity in the cache; set only when the cache is used (the meta is known). */
  readonly #fileId: string | undefined;
  #meta: SstMeta | undefined;
  #opening: Promise<ParquetFile> | undefined;
  #file: ParquetFile | undefined;
  #closed = false;

  constructor(
    store: ObjectStore,
    key: string,
    options: Pick<SstReadOptions, "meta" | "schema" | "cache"> = {},
  ) {
    this.#store = store;
    this.key = key;
    this.#schema = options.schema;
    this.#meta = options.meta;
    this.#cache = options.meta === undefined ? undefined : options.cache;
    this.#fileId =
      this.#cache === undefined
        ? undefined
        : DecodedColumnCache.fileId(key, (options.meta as SstMeta).crc32c);
  }

  /** The file's SstMeta: the one given, else the footer's (which fetches the file). */
  async meta(): Promise<SstMeta> {
    if (this.#meta === undefined) await this.#open();
    return this.#meta as SstMeta;
  }

  /** The row groups that may hold matching rows (SstMeta statistics only); counts what was pruned. */
  selectRowGroups(meta: SstMeta, options: SstPruneOptions): number[] {
    const selected = selectRowGroups(meta, options);
    this.metrics.rowGroupsTotal = meta.rowGroups.length;
    this.metrics.rowGroupsPruned = meta.rowGroups.length - selected.length;
    return selected;
  }

  /** Throws SstColumnNotFoundError for a name neither in the file nor (with a schema) in the table. */
  checkColumns(meta: SstMeta, names: readonly string[]): void {
    for (const name of names) {
      if (!meta.columns.some((c) => c.name === name) && this.#schema?.column(name) === undefined)
        throw new SstColumnNotFoundError(this.key, name);
    }
  }

  /**
   * Row group `group` with the columns `names`, in that order; columns the file predates are
   * nulls. The batch's arrays may be shared with the cache and other scans: never modify them.
   */
  async rowGroup(group: number, names: readonly string[]): Promise<ColumnBatch> {
    const cached = this.cachedRowGroup(group, names);
    if (cached !== undefined) return cached;
    const meta = await this.meta();
    const numRows = this.#numRows(meta, group);
    const inFile = columnsInFile(meta);
    const wanted = [...new Set(names.filter((n) => inFile.has(n)))];
    const decoded = wanted.length === 0 ? new Map<string, Column>() : await this.#columns(group, wanted);
    return this.#assemble(names, numRows, (name) => decoded.get(name));
  }

  /**
   * The row group as `rowGroup` gives it, when every column it needs is in the cache (counted as
   * hits); else undefined, and nothing is counted. Synchronous: warm reads skip the async machinery.
   */
  cachedRowGroup(group: number, names: readonly string[]): ColumnBatch | undefined {
    const cache = this.#cache;
    const fileId = this.#fileId;
    const meta = this.#meta;
    if (cache === undefined || fileId === undefined || meta === undefined) return undefined;
    const inFile = columnsInFile(meta);
    const columns: Array<Column | undefined> = [];
    let hits = 0;
    for (const name of names) {
      let column: Column | undefined;
      if (inFile.has(name)) {
        column = cache.column(fileId, group, name);
        if (column === undefined) return undefined;
        hits++;
      }
      columns.push(column);
    }
    cache.countLookups(hits, 0, 0);
    this.metrics.cacheHits += hits;
    return this.#assemble(names, this.#numRows(meta, group), (_name, i) => columns[i]);
  }

  #numRows(meta: SstMeta, group: number): number {
    const numRows = meta.rowGroups[group]?.numRows;
    if (numRows === undefined) throw new RangeError(`${this.key} has no row group ${group}`);
    return numRows;
  }

  #assemble(
    names: readonly string[],
    numRows: number,
    found: (name: string, i: number) => Column | undefined,
  ): ColumnBatch {
    const columns = names.map((name, i): Column => {
      const column = found(name, i);
      if (column !== undefined) return column;
      const type = this.#schema?.column(name)?.type;
      if (type === undefined) throw new SstColumnNotFoundError(this.key, name);
      return nullColumn(type, numRows);
    });
    this.metrics.rowGroupsRead++;
    this.metrics.rowsRead += numRows;
    return { names, columns, numRows };
  }

  /**
   * The series runs of row group `group` given its tsid and timestamp columns (see series-runs.ts),
   * computed once per row group when there is a cache; undefined when its rows are not sorted by
   * (tsid, timestamp).
   */
  seriesRuns(group: number, tsid: Column, timestamps: Column, numRows: number): SeriesRuns | undefined {
    const cache = this.#cache;
    const fileId = this.#fileId;
    if (cache === undefined || fileId === undefined) return computeSeriesRuns(tsid, timestamps, numRows);
    const cached = cache.runs(fileId, group);
    if (cached !== undefined) return cached ?? undefined;
    const runs = computeSeriesRuns(tsid, timestamps, numRows);
    cache.setRuns(fileId, group, runs ?? null);
    return runs;
  }

  /** Frees the opened file. Idempotent; the reader can still serve cached columns afterwards. */
  close(): void {
    this.#closed = true;
    if (this.#file !== undefined) freeQuietly(this.#file);
    this.#file = undefined;
    this.#opening = undefined;
  }

  async #columns(group: number, names: readonly string[]): Promise<Map<string, Column>> {
    const cache = this.#cache;
    const fileId = this.#fileId;
    if (cache === undefined || fileId === undefined) {
      this.metrics.cacheMisses += names.length;
      return this.#decode(group, names, false);
    }
    const found = new Map<string, Column>();
    const waits: Array<[string, Promise<Column>]> = [];
    const missing: string[] = [];
    for (const name of names) {
      const column = cache.column(fileId, group, name);
      if (column !== undefined) {
        found.set(name, column);
        continue;
      }
      const running = cache.pending(fileId, group, name);
      if (running !== undefined) waits.push([name, running]);
      else missing.push(name);
    }
    cache.countLookups(found.size, missing.length, waits.length);
    this.metrics.cacheHits += found.size;
    this.metrics.cacheMisses += missing.length + waits.length;
    if (missing.length > 0) {
      const ticket = cache.beginDecode(fileId, group, missing);
      let decoded: Map<string, Column>;
      try {
        decoded = await this.#decode(group, missing, true);
      } catch (error) {
        ticket.reject(error);
        throw error;
      }
      ticket.resolve(decoded);
      for (const [name, column] of decoded) found.set(name, column);
    }
    for (const [name, running] of waits) found.set(name, await running);
    return found;
  }

  async #decode(group: number, names: readonly string[], ownBuffers: boolean): Promise<Map<string, Column>> {
    const file = await this.#open();
    const meta = this.#meta as SstMeta;
    const batchSize = Math.max(1, meta.rowGroups[group]?.numRows ?? 1);
    const batches = await decodeRowGroup(this.key, file, group, [...names], batchSize);
    const batch = batches.length === 1 ? (batches[0] as ColumnBatch) : concatBatches(batches);
    const out = new Map<string, Column>();
    batch.names.forEach((name, i) => {
      const column = batch.columns[i] as Column;
      // A cached column must not pin the whole decoded Arrow buffer it is a view of.
      out.set(name, ownBuffers ? ownedColumn(column) : column);
    });
    return out;
  }

  #open(): Promise<ParquetFile> {
    if (this.#closed) return Promise.reject(new Error(`SST reader of ${this.key} is closed`));
    this.#opening ??= this.#openFile();
    return this.#opening;
  }

  /**
   * Opens the file for decoding. The first time, the whole object is fetched and verified; a file
   * the cache remembers as verified is read by ranges instead (footer and the column chunks
   * decoded), so a decode of one column chunk does not copy the whole object.
   */
  async #openFile(): Promise<ParquetFile> {
    const known = this.#meta;
    const fileId = this.#fileId;
    let file: ParquetFile;
    let fileSize: number;
    if (known !== undefined && fileId !== undefined && this.#cache?.isVerified(fileId) === true) {
      fileSize = known.fileSize;
      file = await openParquetOver(this.key, rangedBlob(this.#store, this.key, fileSize, this.metrics));
    } else {
      const bytes = await fetchSst(this.#store, this.key);
      this.metrics.bytesRead += bytes.length;
      checkIntegrity(this.key, bytes, known, true);
      fileSize = bytes.length;
      file = await openParquetOver(this.key, blobOver(bytes));
    }
    try {
      const meta = known ?? metaFromFooter(this.key, file, fileSize);
      checkRowGroups(this.key, file, meta);
      this.#meta = meta;
    } catch (error) {
      freeQuietly(file);
      throw error;
    }
    if (fileId !== undefined) this.#cache?.markVerified(fileId);
    if (this.#closed) {
      freeQuietly(file);
      throw new Error(`SST reader of ${this.key} is closed`);
    }
    this.#file = file;
    return file;
  }
}

/** One scan of one SST: iterate it once for the ColumnBatches; `metrics` fills in as it goes. */
export class SstScan implements AsyncIterable<ColumnBatch> {
  readonly key: string;
  readonly #reader: SstFileReader;
  readonly #options: SstReadOptions;
  #started = false;

  constructor(store: ObjectStore, key: string, options: SstReadOptions = {}) {
    this.key = key;
    this.#options = options;
    this.#reader = new SstFileReader(store, key, options);
  }

  get metrics(): SstScanMetrics {
    return this.#reader.metrics;
  }

  [Symbol.asyncIterator](): AsyncIterator<ColumnBatch> {
    if (this.#started) throw new Error(`SST scan of ${this.key} can be iterated only once`);
    this.#started = true;
    return this.#scan();
  }

  async *#scan(): AsyncGenerator<ColumnBatch> {
    const options = this.#options;
    const reader = this.#reader;
    try {
      // With the manifest's meta, a file that pruning rules out entirely is not fetched at all.
      if (options.meta !== undefined && reader.selectRowGroups(options.meta, options).length === 0) return;
      const meta = await reader.meta();
      const selected = reader.selectRowGroups(meta, options);
      const names = options.projection ?? meta.columns.map((c) => c.name);
      reader.checkColumns(meta, names);
      for (const group of selected) {
        const batch = await reader.rowGroup(group, names);
        yield* splitRows(batch, options.batchSize ?? Math.max(1, batch.numRows));
      }
    } finally {
      reader.close();
    }
  }
}

/** The batch in consecutive views of at most `size` rows (no copies). */
export function* splitRows(batch: ColumnBatch, size: number): Generator<ColumnBatch> {
  if (batch.numRows <= size) {
    yield batch;
    return;
  }
  for (let start = 0; start < batch.numRows; start += size) {
    yield viewRows(batch, start, Math.min(batch.numRows, start + size));
  }
}

/** Reads SSTs from one object store. */
export class SstReader {
  readonly #store: ObjectStore;

  constructor(store: ObjectStore) {
    this.#store = store;
  }

  read(key: string, options?: SstReadOptions): SstScan {
    return new SstScan(this.#store, key, options);
  }

  /** The SstMeta stored in the file itself (after verifying the file). */
  async readMeta(key: string): Promise<SstMeta> {
    const bytes = await fetchSst(this.#store, key);
    checkIntegrity(key, bytes, undefined, true);
    const file = await openParquet(key, bytes);
    try {
      return metaFromFooter(key, file, bytes.length);
    } finally {
      freeQuietly(file);
    }
  }
}

/** Scans an SST (see SstScan). */
export function readSst(store: ObjectStore, key: string, options?: SstReadOptions): SstScan {
  return new SstScan(store, key, options);
}

/** The SstMeta stored in an SST's footer. */
export function readSstMeta(store: ObjectStore, key: string): Promise<SstMeta> {
  return new SstReader(store).readMeta(key);
}

/** A copy of the column whose typed arrays own their buffers (views of a larger one are copied). */
function ownedColumn(column: Column): Column {
  const v = column.values;
  const owns = (a: ArrayBufferView) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
  const values = Array.isArray(v) || owns(v) ? v : (v.slice() as ColumnValues);
  const validity =
    column.validity === null || owns(column.validity) ? column.validity : column.validity.slice();
  if (values === v && validity === column.validity) return column;
  return { type: column.type, values, validity };
}

async function fetchSst(store: ObjectStore, key: string): Promise<Uint8Array> {
  try {
    return await store.get(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new SstNotFoundError(key, error);
    throw error;
  }
}

/** Checks the size against the meta, and (with `verifyCrc`) the whole file's checksum. */
function checkIntegrity(key: string, bytes: Uint8Array, meta: SstMeta | undefined, verifyCrc: boolean): void {
  if (meta !== undefined && bytes.length !== meta.fileSize) {
    throw new SstCorruptionError(key, `object is ${bytes.length} bytes, the SST meta says ${meta.fileSize}`);
  }
  if (!verifyCrc) return;
  const verdict = verifyChecksum(bytes);
  if (!verdict.ok) throw new SstCorruptionError(key, verdict.problem);
  if (meta !== undefined && verdict.crc32c !== meta.crc32c) {
    throw new SstCorruptionError(
      key,
      `file checksum ${verdict.crc32c} differs from the SST meta's ${meta.crc32c}`,
    );
  }
}

/**
 * A Blob look-alike over bytes in memory. parquet-wasm's async reader uses only `size`,
 * `slice(start, end)` and `arrayBuffer()`; each slice copies just the requested range.
 */
function blobOver(bytes: Uint8Array): Blob {
  const copy = (start: number, end: number): ArrayBuffer =>
    bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + end) as ArrayBuffer;
  const handle = {
    size: bytes.length,
    slice: (start = 0, end = bytes.length) => ({ arrayBuffer: () => Promise.resolve(copy(start, end)) }),
    arrayBuffer: () => Promise.resolve(copy(0, bytes.length)),
  };
  // Structural stand-in: the rest of the Blob interface is never called.
  return handle as unknown as Blob;
}

async function wasmCall<T>(key: string, what: string, call: () => Promise<T> | T): Promise<T> {
  try {
    return await call();
  } catch (error) {
    discardOnTrap(error);
    const message = error instanceof Error ? error.message : String(error);
    throw new SstDecodeError(key, `${what}: ${message}`, { cause: error });
  }
}

function openParquet(key: string, bytes: Uint8Array): Promise<ParquetFile> {
  return openParquetOver(key, blobOver(bytes));
}

function openParquetOver(key: string, blob: Blob): Promise<ParquetFile> {
  return wasmCall(key, "open", () => parquetWasm().ParquetFile.fromFile(blob));
}

/**
 * A Blob look-alike over an object of `size` bytes whose slices are ranged gets (see blobOver);
 * the bytes fetched are added to `metrics.bytesRead`.
 */
function rangedBlob(store: ObjectStore, key: string, size: number, metrics: SstScanMetrics): Blob {
  const read = async (start: number, end: number): Promise<ArrayBuffer> => {
    let bytes: Uint8Array;
    try {
      bytes = await store.getRange(key, start, end);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) throw new SstNotFoundError(key, error);
      throw error;
    }
    metrics.bytesRead += bytes.length;
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    return (whole ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer;
  };
  const handle = {
    size,
    slice: (start = 0, end = size) => ({ arrayBuffer: () => read(start, end) }),
    arrayBuffer: () => read(0, size),
  };
  // Structural stand-in: the rest of the Blob interface is never called.
  return handle as unknown as Blob;
}

function metaFromFooter(key: string, file: ParquetFile, fileSize: number): SstMeta {
  let json: unknown;
  try {
    const metadata = file.metadata();
    const fileMetadata = metadata.fileMetadata();
    const keyValues = fileMetadata.keyValueMetadata() as Map<string, string>;
    freeQuietly(fileMetadata);
    freeQuietly(metadata);
    const raw = keyValues.get(SST_META_KEY);
    if (raw === undefined) throw new SstCorruptionError(key, `no ${SST_META_KEY} in the footer`);
    json = JSON.parse(raw);
  } catch (error) {
    discardOnTrap(error);
    if (error instanceof SstCorruptionError) throw error;
    throw new SstCorruptionError(key, `cannot read ${SST_META_KEY}`, { cause: error });
  }
  try {
    return parseSstMeta(json, fileSize);
  } catch (error) {
    if (error instanceof SstMetaFormatError)
      throw new SstCorruptionError(key, error.message, { cause: error });
    throw error;
  }
}

/** The file must have exactly the row groups the meta describes, or pruning would pick wrong ones. */
function checkRowGroups(key: string, file: ParquetFile, meta: SstMeta): void {
  const metadata = file.metadata();
  try {
    const groups = metadata.rowGroups();
    const counts = groups.map((g) => g.numRows());
    for (const g of groups) freeQuietly(g);
    if (counts.length !== meta.rowGroups.length) {
      throw new SstCorruptionError(
        key,
        `file has ${counts.length} row groups, the SST meta ${meta.rowGroups.length}`,
      );
    }
    counts.forEach((rows, i) => {
      const expected = meta.rowGroups[i]?.numRows;
      if (rows !== expected) {
        throw new SstCorruptionError(key, `row group ${i} has ${rows} rows, the SST meta says ${expected}`);
      }
    });
  } finally {
    freeQuietly(metadata);
  }
}

async function decodeRowGroup(
  key: string,
  file: ParquetFile,
  group: number,
  columns: string[],
  batchSize: number,
): Promise<ColumnBatch[]> {
  const ipc = await wasmCall(key, `row group ${group}`, async () => {
    const table = await file.read({ rowGroups: [group], columns, batchSize });
    // intoIPCStream consumes the table.
    return table.intoIPCStream();
  });
  return tableFromIPC(ipc).batches.map((b) => arrowToColumnBatch(b));
}
