import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StandaloneCatalog } from "../../src/engine/catalog.js";
import { removeDroppedTables } from "../../src/engine/dropped-tables.js";
import type { StorageEngine } from "../../src/engine/engine.js";
import { StorageLayout } from "../../src/engine/layout.js";
import { TableManifest } from "../../src/manifest/index.js";
import { LocalObjectStore } from "../../src/object-store/index.js";
import { ObjectNotFoundError } from "../../src/object-store/errors.js";
import type { ObjectMeta, ObjectStore } from "../../src/object-store/object-store.js";
import {
  type CpuRow,
  cpuRows,
  cpuSchema,
  scanAll,
  type TempEngine,
  tempEngineDir,
} from "./engine-fixtures.js";

const layout = new StorageLayout("standalone");

const rows = (n: number, usage: number): CpuRow[] =>
  Array.from({ length: n }, (_, i) => ({ host: `h${i % 3}`, ts: 1000 * i, usage }));

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const meta of store.list(prefix)) keys.push(meta.key);
  return keys;
}

/** Objects in memory under flat keys, listed in key order, as S3 keeps them (no directories). */
class FlatObjectStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  readonly deletes: string[] = [];

  put(key: string, data: Uint8Array): Promise<void> {
    this.objects.set(key, data.slice());
    return Promise.resolve();
  }
  get(key: string): Promise<Uint8Array> {
    const data = this.objects.get(key);
    return data === undefined ? Promise.reject(new ObjectNotFoundError(key)) : Promise.resolve(data.slice());
  }
  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return (await this.get(key)).slice(start, end);
  }
  head(key: string): Promise<ObjectMeta | undefined> {
    const data = this.objects.get(key);
    return Promise.resolve(data === undefined ? undefined : { key, size: data.length, lastModified: 0 });
  }
  async *list(prefix: string): AsyncIterable<ObjectMeta> {
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const meta = await this.head(key);
      if (meta !== undefined) yield meta;
    }
  }
  delete(key: string): Promise<void> {
    this.deletes.push(key);
    this.objects.delete(key);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe("removeDroppedTables", () => {
  let dir: TempEngine;
  let engine: StorageEngine | undefined;

  beforeEach(async () => {
    dir = await tempEngineDir();
  });
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    await dir.cleanup();
  });

  it("deletes the objects of a table dropped just before a crash, and of a create cut short, and nothing of live tables", async () => {
    engine = await dir.open({ compaction: { paused: true } });
    for (const name of ["gone", "kept"]) {
      await engine.createTable("public", name, cpuSchema());
      await engine.write("public", name, cpuRows(rows(30, 1)));
      await engine.flush("public", name);
      await engine.write("public", name, cpuRows(rows(30, 2)));
      await engine.flush("public", name);
    }
    const goneId = engine.table("public", "gone")?.id as number;
    const keptId = engine.table("public", "kept")?.id as number;
    const keptRows = await scanAll(engine, "kept");
    await engine.close();
    engine = undefined;

    const store = await LocalObjectStore.open(join(dir.dataDir, "store"), { fsync: false });
    let halfCreated = 0;
    try {
      // The crash: the catalog entry is gone, the background deletion never ran.
      const catalog = await StandaloneCatalog.load(store, layout);
      await catalog.drop("public", "gone");
      // A create that got as far as the manifest: the id is allocated, the catalog never heard of it.
      halfCreated = await catalog.allocateId();
      await TableManifest.create(store, layout.manifestPrefix(halfCreated), {
        schema: cpuSchema().toJSON(),
        options: {},
      });
      const goneKeys = await keysUnder(store, layout.tablePrefix(goneId));
      expect(goneKeys.filter((k) => k.endsWith(".parquet"))).toHaveLength(2);
      expect(goneKeys.some((k) => k.startsWith(layout.manifestPrefix(goneId)))).toBe(true);
      const halfKeys = await keysUnder(store, layout.tablePrefix(halfCreated));
      expect(halfKeys.length).toBeGreaterThan(0);
      const keptKeys = await keysUnder(store, layout.tablePrefix(keptId));

      const reloaded = await StandaloneCatalog.load(store, layout);
      const result = await removeDroppedTables(store, layout, reloaded);
      expect(result.tables).toEqual([goneId, halfCreated].sort((a, b) => a - b));
      expect([...result.deleted].sort()).toEqual([...goneKeys, ...halfKeys].sort());
      expect(result.unrecognized).toEqual([]);
      expect(await keysUnder(store, layout.tablePrefix(goneId))).toEqual([]);
      expect(await keysUnder(store, layout.tablePrefix(halfCreated))).toEqual([]);
      expect(await keysUnder(store, layout.tablePrefix(keptId))).toEqual(keptKeys);
      // A second run finds nothing more.
      expect(await removeDroppedTables(store, layout, reloaded)).toEqual({
        tables: [],
        deleted: [],
        unrecognized: [],
      });
    } finally {
      await store.close();
    }

    engine = await dir.open({ compaction: { paused: true } });
    expect(engine.tables().map((t) => t.name)).toEqual(["kept"]);
    expect(await scanAll(engine, "kept")).toEqual(keptRows);
    // The dropped name can be created again, under a new id, and starts empty.
    const again = await engine.createTable("public", "gone", cpuSchema());
    expect(again.id).toBeGreaterThan(halfCreated);
    expect(await scanAll(engine, "gone")).toEqual([]);
  });

  it("deletes SSTs before the manifest, so an interrupted cleanup is finished by the next one", async () => {
    const store = new FlatObjectStore();
    const catalog = { nextId: 3, list: () => [{ id: 1 }] };
    const sst = (fileId: number) => layout.sstKey(2, fileId);
    const manifestKey = `${layout.manifestPrefix(2)}snapshot-${"1".padStart(20, "0")}.json`;
    for (const key of [manifestKey, sst(1), sst(2)]) await store.put(key, new Uint8Array(1));
    const result = await removeDroppedTables(store, layout, catalog);
    expect(result.tables).toEqual([2]);
    expect(store.deletes).toEqual([sst(1), sst(2), manifestKey]);
    expect(store.objects.size).toBe(0);
  });

  it("touches only keys exactly as the layout builds them, of ids below the high-water mark", async () => {
    const store = new FlatObjectStore();
    // Table 1 is live, 2 was dropped, 5 has never been handed out (nextId 5).
    const catalog = { nextId: 5, list: () => [{ id: 1 }] };
    const edit = (id: number, version: number) =>
      `${layout.manifestPrefix(id)}edit-${String(version).padStart(20, "0")}.json`;
    const garbage = [layout.sstKey(2, 7), layout.sstKey(2, 8), edit(2, 1), edit(2, 2)];
    const untouched = [
      // Live table.
      layout.sstKey(1, 1),
      edit(1, 1),
      // Not exactly the layout's names, though they look like table 2's objects.
      "standalone/tables/02/sst/1.parquet",
      "standalone/tables/2x/sst/1.parquet",
      "standalone/tables/2",
      "standalone/tables/+2/sst/1.parquet",
      "standalone/tables/2.0/sst/1.parquet",
      // At or above the high-water mark.
      layout.sstKey(5, 1),
      layout.sstKey(12, 1),
      // Outside the layout's root.
      "standalone/catalog/tables/public/t.json",
      "standalone/tablesx/2/sst/1.parquet",
      "other/tables/2/sst/1.parquet",
      "tables/2/sst/1.parquet",
    ];
    const strays = [
      "standalone/tables/2/sst/01.parquet",
      "standalone/tables/2/sst/1.parquet.tmp",
      "standalone/tables/2/manifest/edit-1.json",
      "standalone/tables/2/notes.txt",
    ];
    for (const key of [...garbage, ...untouched, ...strays]) await store.put(key, new Uint8Array(1));

    const result = await removeDroppedTables(store, layout, catalog);
    expect(result.tables).toEqual([2]);
    expect([...result.deleted].sort()).toEqual([...garbage].sort());
    expect([...result.unrecognized].sort()).toEqual([...strays].sort());
    expect([...store.objects.keys()].sort()).toEqual([...untouched, ...strays].sort());
  });

  it("does nothing when every id below the high-water mark is listed", async () => {
    const store = new FlatObjectStore();
    for (const key of [layout.sstKey(1, 1), layout.sstKey(2, 1)]) await store.put(key, new Uint8Array(1));
    const result = await removeDroppedTables(store, layout, {
      nextId: 3,
      list: () => [{ id: 1 }, { id: 2 }],
    });
    expect(result.deleted).toEqual([]);
    expect(store.objects.size).toBe(2);
  });
});
