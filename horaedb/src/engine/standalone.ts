import { join } from "node:path";
import type { Logger } from "pino";
import { CachedObjectStore, LocalObjectStore } from "../object-store/index.js";
import { LocalWalManager } from "../wal/local/index.js";
import type { CompactionOptions } from "./compaction/index.js";
import { StorageEngine, type StorageEngineOptions } from "./engine.js";

export interface StandaloneEngineOptions {
  /** Directory holding `wal/` (segment files) and `store/` (the local object store). */
  readonly dataDir: string;
  readonly logger: Logger;
  readonly cluster?: string;
  readonly memoryBudgetBytes?: number;
  readonly maxUnflushedAgeMs?: number;
  readonly flushCheckIntervalMs?: number;
  readonly encoderWorkers?: number;
  readonly readCacheBytes?: number;
  /** Bytes of decoded SST columns kept for later reads; 0 turns the cache off. */
  readonly decodedCacheBytes?: number;
  /** See StorageEngineOptions.prepopulateDecodedCache (default true). */
  readonly prepopulateDecodedCache?: boolean;
  readonly walSegmentBytes?: number;
  readonly autoCreateTable?: boolean;
  readonly autoAddColumns?: boolean;
  /** See StorageEngineOptions.schemas (absent: any schema). */
  readonly schemas?: readonly string[];
  /** fsync objects written to the local store (default true; tests may turn it off). */
  readonly fsyncObjects?: boolean;
  /** Compaction settings; absent ones take DEFAULT_COMPACTION_OPTIONS. */
  readonly compaction?: Partial<CompactionOptions>;
  /** Clock for table TTLs, ms since the epoch (default Date.now). */
  readonly now?: () => number;
}

export const STANDALONE_DEFAULTS = {
  cluster: "standalone",
  memoryBudgetBytes: 1024 * 1024 * 1024,
  maxUnflushedAgeMs: 5 * 60_000,
  flushCheckIntervalMs: 5_000,
  encoderWorkers: 1,
  readCacheBytes: 256 * 1024 * 1024,
  decodedCacheBytes: 256 * 1024 * 1024,
} as const;

/** Opens an engine on local directories: the WAL as segment files, object storage as a directory. */
export async function openStandaloneEngine(options: StandaloneEngineOptions): Promise<StorageEngine> {
  const local = await LocalObjectStore.open(join(options.dataDir, "store"), {
    fsync: options.fsyncObjects ?? true,
  });
  const store = new CachedObjectStore(local, {
    capacityBytes: options.readCacheBytes ?? STANDALONE_DEFAULTS.readCacheBytes,
  });
  const walManager = new LocalWalManager({
    rootDir: join(options.dataDir, "wal"),
    logger: options.logger,
    ...(options.walSegmentBytes === undefined ? {} : { segmentBytes: options.walSegmentBytes }),
  });
  const engineOptions: StorageEngineOptions = {
    cluster: options.cluster ?? STANDALONE_DEFAULTS.cluster,
    store,
    walManager,
    memoryBudgetBytes: options.memoryBudgetBytes ?? STANDALONE_DEFAULTS.memoryBudgetBytes,
    maxUnflushedAgeMs: options.maxUnflushedAgeMs ?? STANDALONE_DEFAULTS.maxUnflushedAgeMs,
    flushCheckIntervalMs: options.flushCheckIntervalMs ?? STANDALONE_DEFAULTS.flushCheckIntervalMs,
    encoderWorkers: options.encoderWorkers ?? STANDALONE_DEFAULTS.encoderWorkers,
    decodedCacheBytes: options.decodedCacheBytes ?? STANDALONE_DEFAULTS.decodedCacheBytes,
    prepopulateDecodedCache: options.prepopulateDecodedCache ?? true,
    writePolicy: {
      autoCreateTable: options.autoCreateTable ?? true,
      autoAddColumns: options.autoAddColumns ?? true,
    },
    logger: options.logger,
    ...(options.schemas === undefined ? {} : { schemas: options.schemas }),
    ...(options.compaction === undefined ? {} : { compaction: options.compaction }),
    ...(options.now === undefined ? {} : { now: options.now }),
  };
  try {
    return await StorageEngine.open(engineOptions);
  } catch (error) {
    await store.close();
    throw error;
  }
}
