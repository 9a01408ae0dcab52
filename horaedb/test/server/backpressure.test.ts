import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createLogger } from "@horaedb/common";
import { loadStorageProto, StatusCode, type storage } from "@horaedb/proto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StorageEngine } from "../../src/engine/engine.js";
import { LocalObjectStore } from "../../src/object-store/local-object-store.js";
import type { ObjectStore, PutOptions } from "../../src/object-store/object-store.js";
import { storageServiceHandlers, storageServiceServerDefinition } from "../../src/storage-service.js";
import { LocalWalManager } from "../../src/wal/local/local-wal-manager.js";

const logger = createLogger({ name: "backpressure", level: "silent" });
const BUDGET_BYTES = 1024 * 1024;
const ROWS_PER_WRITE = 2_000;
const T = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;

/** The local store, with SST uploads held back while `held`: flushes cannot finish meanwhile. */
class HeldSstStore implements ObjectStore {
  held = true;
  readonly #inner: ObjectStore;
  readonly #waiting: (() => void)[] = [];

  constructor(inner: ObjectStore) {
    this.#inner = inner;
  }

  release(): void {
    this.held = false;
    for (const resume of this.#waiting.splice(0)) resume();
  }

  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    if (this.held && key.includes("/sst/")) await new Promise<void>((resume) => this.#waiting.push(resume));
    return this.#inner.put(key, data, options);
  }
  get(key: string): Promise<Uint8Array> {
    return this.#inner.get(key);
  }
  getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return this.#inner.getRange(key, start, end);
  }
  head(key: string): ReturnType<ObjectStore["head"]> {
    return this.#inner.head(key);
  }
  list(prefix: string): ReturnType<ObjectStore["list"]> {
    return this.#inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "horaedb-backpressure-"));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** StorageService on an engine whose flushes wait for `store.release()`, with a 1 MiB budget. */
async function start(): Promise<{
  engine: StorageEngine;
  store: HeldSstStore;
  client: storage.StorageServiceClient;
}> {
  const store = new HeldSstStore(await LocalObjectStore.open(join(dir, "store"), { fsync: false }));
  const engine = await StorageEngine.open({
    cluster: "standalone",
    store,
    walManager: new LocalWalManager({ rootDir: join(dir, "wal"), logger }),
    memoryBudgetBytes: BUDGET_BYTES,
    maxUnflushedAgeMs: 3_600_000,
    flushCheckIntervalMs: 10,
    writePolicy: { autoCreateTable: true, autoAddColumns: true },
    encoderWorkers: 0,
    logger,
  });
  cleanups.push(() => engine.close());
  // Cleanups run last first: flushes may finish, then the engine closes.
  cleanups.push(() => store.release());
  const server = new grpc.Server();
  server.addService(
    storageServiceServerDefinition(),
    storageServiceHandlers({
      engine: () => engine,
      endpoint: () => ({ host: "127.0.0.1", port: 0 }),
      logger,
      encodedSqlResponses: true,
    }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    ),
  );
  cleanups.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  const { StorageService } = loadStorageProto().horaedb.storage.v1;
  const client = new StorageService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  return { engine, store, client };
}

/** Write `id`: ROWS_PER_WRITE rows of table `cpu`, each carrying the id, with keys of their own. */
function writeRequest(id: number): storage.WriteRequest {
  return {
    tableRequests: [
      {
        table: "cpu",
        series: {
          tagNames: ["host"],
          fieldNames: ["write_id"],
          entries: [
            {
              tags: [{ nameIndex: 0, value: { stringValue: `h${id}` } }],
              fieldGroups: Array.from({ length: ROWS_PER_WRITE }, (_, i) => ({
                timestamp: T + i,
                fields: [{ nameIndex: 0, value: { float64Value: id } }],
              })),
            },
          ],
        },
      },
    ],
  };
}

function write(client: storage.StorageServiceClient, request: storage.WriteRequest) {
  return new Promise<storage.WriteResponse__Output>((resolve, reject) =>
    client.Write(request, (error, response) =>
      error === null && response !== undefined
        ? resolve(response)
        : reject(error ?? new Error("Write answered nothing")),
    ),
  );
}

async function rowsPerWrite(engine: StorageEngine): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for await (const batch of engine.scan("public", "cpu", { projection: ["write_id"] })) {
    const ids = batch.columns[0]?.values as Float64Array;
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe("write backpressure", () => {
  it("admits concurrent writes only while memtables and the writes in flight are under the limit", async () => {
    const { engine, client } = await start();
    const first = await write(client, writeRequest(0));
    expect(first.header?.code).toBe(StatusCode.STATUS_CODE_OK);
    const perWrite = engine.memory.totalBytes;
    // All sent at once, so all are checked before any is applied: the writes in flight must count.
    const burst = 64;
    const answers = await Promise.all(
      Array.from({ length: burst }, (_, i) => write(client, writeRequest(1 + i))),
    );
    const codes = answers.map((a) => a.header?.code);
    const taken = codes.filter((c) => c === StatusCode.STATUS_CODE_OK).length;
    expect(codes.filter((c) => c === StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED).length).toBe(burst - taken);
    expect(taken).toBeLessThan(burst);
    // Past the hard limit by about one write at most, where checking memtables alone lets all in.
    expect(engine.memory.totalBytes).toBeLessThan(1.5 * BUDGET_BYTES + 2 * perWrite);
  });

  it("answers RESOURCE_EXHAUSTED with a retry hint once memtables are full, holds memory there, and keeps every acknowledged row", async () => {
    const { engine, store, client } = await start();
    const acknowledged: number[] = [];
    let refusal: storage.WriteResponse__Output | undefined;
    let id = 0;
    // Flushes cannot finish, so memtables fill up to the hard limit (1.5 x the budget) and past it
    // by at most the write that crossed it.
    let perWrite = 0;
    while (refusal === undefined && id < 100) {
      const before = engine.memory.totalBytes;
      const response = await write(client, writeRequest(id));
      if (response.header?.code === StatusCode.STATUS_CODE_OK) acknowledged.push(id);
      else refusal = response;
      perWrite = Math.max(perWrite, engine.memory.totalBytes - before);
      id++;
    }
    expect(refusal, "no write was refused").toBeDefined();
    expect(refusal?.tableResults[0]?.header?.code).toBe(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED);
    expect(refusal?.tableResults[0]?.header?.message).toMatch(
      /memtables hold \d+ bytes, over the write limit/,
    );
    expect(refusal?.tableResults[0]?.header?.retryAfterMs).toBeGreaterThan(0);
    const held = engine.memory.totalBytes;
    expect(held).toBeGreaterThanOrEqual(1.5 * BUDGET_BYTES);
    expect(held).toBeLessThan(1.5 * BUDGET_BYTES + perWrite);

    // While flushes cannot catch up, every write is refused and memory does not grow.
    for (let n = 0; n < 5; n++) {
      const response = await write(client, writeRequest(id++));
      expect(response.header?.code).toBe(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED);
    }
    expect(engine.memory.totalBytes).toBe(held);

    // Once flushes finish, a write retried after the hint is taken.
    store.release();
    const retried = id++;
    for (let attempt = 0; ; attempt++) {
      const response = await write(client, writeRequest(retried));
      if (response.header?.code === StatusCode.STATUS_CODE_OK) break;
      expect(response.header?.code).toBe(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED);
      expect(attempt).toBeLessThan(200);
      await new Promise((resolve) => setTimeout(resolve, response.header?.retryAfterMs ?? 0));
    }
    acknowledged.push(retried);

    const counts = await rowsPerWrite(engine);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual(acknowledged);
    expect([...counts.values()].every((n) => n === ROWS_PER_WRITE)).toBe(true);
  });
});
