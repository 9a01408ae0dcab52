import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SstFileEntry } from "../../src/manifest/index.js";
import { LocalObjectStore } from "../../src/object-store/local-object-store.js";
import type { ObjectMeta, ObjectStore, PutOptions } from "../../src/object-store/object-store.js";
import { DataType } from "../../src/table/data-type.js";
import { TableSchema, type TableSchemaJson } from "../../src/table/schema.js";

export const PREFIX = "testCluster/tables/42/manifest/";

/** A temporary directory with a LocalObjectStore over it. */
export interface TempStore {
  readonly dir: string;
  readonly store: LocalObjectStore;
  /** A second, independent store over the same directory (what a restarted process opens). */
  reopen(): Promise<LocalObjectStore>;
  remove(): Promise<void>;
}

export async function openTempStore(): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), "horaedb-manifest-"));
  // fsync protects against power loss, which these tests do not simulate; it only slows them down.
  const store = await LocalObjectStore.open(dir, { fsync: false });
  return {
    dir,
    store,
    reopen: () => LocalObjectStore.open(dir, { fsync: false }),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export function cpuSchema(version = 1): TableSchemaJson {
  return TableSchema.create({
    columns: [
      { name: "host", type: DataType.String, isTag: true },
      { name: "ts", type: DataType.Timestamp },
      { name: "usage", type: DataType.Double },
    ],
    timestampColumn: "ts",
    version,
  }).toJSON();
}

/** The schema with one more column per version step. */
export function schemaAtVersion(version: number): TableSchemaJson {
  let schema = TableSchema.fromJSON(cpuSchema(1));
  for (let v = 2; v <= version; v++)
    schema = schema.withAddedColumns([{ name: `f${v}`, type: DataType.Int64 }]);
  return schema.toJSON();
}

export function sstEntry(fileId: number, overrides: Partial<SstFileEntry> = {}): SstFileEntry {
  return {
    fileId,
    key: `testCluster/tables/42/sst/${fileId}.parquet`,
    size: 1000 + fileId,
    rowCount: 100 * fileId,
    timeRange: { min: 1_700_000_000_000 + fileId, max: 1_700_000_360_000 + fileId },
    maxSequence: 10 * fileId,
    schemaVersion: 1,
    meta: { rowGroups: [{ rows: 100 * fileId, min: { usage: 0.5 }, max: { usage: 99.5 } }] },
    ...overrides,
  };
}

/** Keys of the manifest objects, relative to PREFIX, in listing order. */
export async function listManifest(store: ObjectStore, prefix = PREFIX): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key.slice(prefix.length));
  return keys;
}

export function editName(version: number): string {
  return `edit-${String(version).padStart(20, "0")}.json`;
}

export function snapshotName(version: number): string {
  return `snapshot-${String(version).padStart(20, "0")}.json`;
}

/** The failure a CrashingObjectStore throws: the process died at this point. */
export class SimulatedCrash extends Error {
  override readonly name = "SimulatedCrash";
}

export interface MutationRecord {
  readonly op: "put" | "delete";
  readonly key: string;
}

/**
 * Wraps a real store and makes the process "die" at mutation number `crashAt` (0-based, counting
 * put and delete): with `effect: "lost"` that mutation never happens, with `effect: "applied"` it
 * happens but its caller sees an error. From then on every operation fails, as nothing runs after a
 * crash. With crashAt = Infinity it only records the mutations.
 */
export class CrashingObjectStore implements ObjectStore {
  readonly mutations: MutationRecord[] = [];
  crashed = false;

  constructor(
    private readonly inner: ObjectStore,
    private readonly crashAt: number,
    private readonly effect: "lost" | "applied",
  ) {}

  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    await this.mutate({ op: "put", key }, () => this.inner.put(key, data, options));
  }

  async delete(key: string): Promise<void> {
    await this.mutate({ op: "delete", key }, () => this.inner.delete(key));
  }

  get(key: string): Promise<Uint8Array> {
    this.checkAlive();
    return this.inner.get(key);
  }

  getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    this.checkAlive();
    return this.inner.getRange(key, start, end);
  }

  head(key: string): Promise<ObjectMeta | undefined> {
    this.checkAlive();
    return this.inner.head(key);
  }

  async *list(prefix: string): AsyncIterable<ObjectMeta> {
    this.checkAlive();
    yield* this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async mutate(record: MutationRecord, run: () => Promise<void>): Promise<void> {
    this.checkAlive();
    const index = this.mutations.length;
    this.mutations.push(record);
    if (index !== this.crashAt) return run();
    this.crashed = true;
    if (this.effect === "applied") await run();
    throw new SimulatedCrash(`crash at mutation ${index}: ${record.op} ${record.key}`);
  }

  private checkAlive(): void {
    if (this.crashed) throw new SimulatedCrash("the process has crashed");
  }
}

/** How an AlteredObjectStore fails puts. */
export interface PutFailure {
  /** "lost": the put fails before writing; "applied": it writes, then reports an error (a timeout). */
  readonly effect: "lost" | "applied";
  /** Only puts of keys for which this holds fail (default: all). */
  readonly when?: (key: string) => boolean;
  /** Only this many puts fail (default: all). */
  readonly times?: number;
}

/** Forwards to a real store but changes individual operations (races, stores without conditional puts). */
export class AlteredObjectStore implements ObjectStore {
  #failuresLeft: number;
  #afterFirstList: (() => Promise<void>) | undefined;

  constructor(
    private readonly inner: ObjectStore,
    private readonly alter: {
      /** Pretend no object exists (a head() that ran before a racing writer's put). */
      readonly headSeesNothing?: boolean;
      /** Ignore `ifNotExists`, like an S3 endpoint that does not enforce conditional puts. */
      readonly ignoreIfNotExists?: boolean;
      readonly failPuts?: PutFailure;
      /** Runs once, after the first listing has been read in full (a writer acting in between). */
      readonly afterFirstList?: () => Promise<void>;
    },
  ) {
    this.#failuresLeft = alter.failPuts?.times ?? Number.POSITIVE_INFINITY;
    this.#afterFirstList = alter.afterFirstList;
  }

  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    const failure = this.alter.failPuts;
    const fails = failure !== undefined && this.#failuresLeft > 0 && (failure.when?.(key) ?? true);
    if (fails) this.#failuresLeft--;
    if (fails && failure.effect === "lost") throw new Error(`injected put failure: ${key}`);
    await this.inner.put(key, data, this.alter.ignoreIfNotExists === true ? {} : options);
    if (fails) throw new Error(`injected timeout after put: ${key}`);
  }

  get(key: string): Promise<Uint8Array> {
    return this.inner.get(key);
  }

  getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return this.inner.getRange(key, start, end);
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    return this.alter.headSeesNothing === true ? undefined : this.inner.head(key);
  }

  async *list(prefix: string): AsyncIterable<ObjectMeta> {
    const listed: ObjectMeta[] = [];
    for await (const object of this.inner.list(prefix)) listed.push(object);
    const hook = this.#afterFirstList;
    this.#afterFirstList = undefined;
    await hook?.();
    yield* listed;
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Deterministic PRNG (mulberry32), so a failing random test can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
