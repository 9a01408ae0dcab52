import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  editKey,
  FIRST_FILE_ID,
  INITIAL_FLUSHED_SEQUENCE,
  ManifestConflictError,
  ManifestEditError,
  ManifestOp,
  ManifestWriteError,
  snapshotKey,
  TableManifest,
} from "../../src/manifest/index.js";
import { DataType } from "../../src/table/data-type.js";
import { DEFAULT_TABLE_OPTIONS, formatTableOptions } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";
import {
  AlteredObjectStore,
  cpuSchema,
  editName,
  listManifest,
  openTempStore,
  PREFIX,
  schemaAtVersion,
  snapshotName,
  sstEntry,
  type TempStore,
} from "./fixtures.js";

let temp: TempStore;
beforeEach(async () => {
  temp = await openTempStore();
});
afterEach(async () => {
  await temp.remove();
});

async function newManifest(snapshotEvery = 20): Promise<TableManifest> {
  return TableManifest.create(
    temp.store,
    PREFIX,
    { schema: cpuSchema(), options: formatTableOptions(DEFAULT_TABLE_OPTIONS) },
    { snapshotEvery },
  );
}

async function reload(snapshotEvery = 20): Promise<TableManifest> {
  const manifest = await TableManifest.load(await temp.reopen(), PREFIX, { snapshotEvery });
  if (manifest === undefined) throw new Error("manifest not found");
  return manifest;
}

describe("TableManifest create and load", () => {
  it("loads nothing under a prefix without manifest objects, ignoring other objects", async () => {
    expect(await TableManifest.load(temp.store, PREFIX)).toBeUndefined();
    await temp.store.put(`${PREFIX}README.txt`, new TextEncoder().encode("not a manifest object"));
    expect(await TableManifest.load(temp.store, PREFIX)).toBeUndefined();
  });

  it("creates version 1 with schema, options, no SSTs and nothing flushed", async () => {
    const manifest = await newManifest();
    expect(manifest.state).toEqual({
      version: 1,
      schema: cpuSchema(),
      options: formatTableOptions(DEFAULT_TABLE_OPTIONS),
      flushedSequence: INITIAL_FLUSHED_SEQUENCE,
      ssts: new Map(),
      nextFileId: FIRST_FILE_ID,
    });
    expect(manifest.tableOptions).toEqual(DEFAULT_TABLE_OPTIONS);
    expect(await listManifest(temp.store)).toEqual([editName(1)]);
    expect((await reload()).state).toEqual(manifest.state);
  });

  it("starts from a given flushed sequence and fills absent options with defaults", async () => {
    const manifest = await TableManifest.create(temp.store, PREFIX, {
      schema: cpuSchema(),
      options: { ttl: "3d" },
      flushedSequence: 4711,
    });
    expect(manifest.state.flushedSequence).toBe(4711);
    expect(manifest.tableOptions).toEqual({ ...DEFAULT_TABLE_OPTIONS, ttlMs: 3 * 24 * 3_600_000 });
    expect((await reload()).state).toEqual(manifest.state);
  });

  it("refuses to create a manifest that exists, even when only a snapshot is left", async () => {
    const manifest = await newManifest(2);
    await expect(newManifest()).rejects.toBeInstanceOf(ManifestConflictError);
    await manifest.commit([ManifestOp.setFlushedSequence(1)]);
    expect(await listManifest(temp.store)).toEqual([snapshotName(2)]);
    await expect(newManifest()).rejects.toBeInstanceOf(ManifestConflictError);
  });

  it("refuses a first version without a schema and options that HoraeDB does not know", async () => {
    await expect(
      TableManifest.create(temp.store, PREFIX, { schema: cpuSchema(), options: { ttl: "soon" } }),
    ).rejects.toBeInstanceOf(ManifestEditError);
    await expect(
      TableManifest.create(temp.store, PREFIX, { schema: cpuSchema(), options: { colour: "blue" } }),
    ).rejects.toThrow(/unknown option/);
    expect(await listManifest(temp.store)).toEqual([]);
  });
});

describe("TableManifest readers", () => {
  it("starts over when the writer's snapshot cleanup deletes what a load had listed", async () => {
    const writer = await newManifest(3);
    await writer.commit([ManifestOp.setFlushedSequence(1)]);
    const store = new AlteredObjectStore(await temp.reopen(), {
      // Version 3 is snapshotted, and edits 1-3 deleted, after the reader listed edits 1 and 2.
      afterFirstList: async () => {
        await writer.commit([ManifestOp.setFlushedSequence(2)]);
      },
    });
    const reader = await TableManifest.load(store, PREFIX);
    expect(await listManifest(temp.store)).toEqual([snapshotName(3)]);
    expect(reader?.state).toEqual(writer.state);
  });

  it("follows the writer's commits with refresh()", async () => {
    const writer = await newManifest(2);
    const follower = await reload();
    for (let i = 1; i <= 5; i++) await writer.commit([ManifestOp.setFlushedSequence(i)]);
    expect(follower.version).toBe(1);
    expect(await follower.refresh()).toEqual(writer.state);
  });
});

describe("TableManifest edits round trip", () => {
  it("persists every kind of edit and reloads the same state", async () => {
    const manifest = await newManifest();
    await manifest.commit([ManifestOp.allocateFileIds(3)]);
    expect(manifest.state.nextFileId).toBe(FIRST_FILE_ID + 3);

    await manifest.commit([ManifestOp.addSst(sstEntry(1)), ManifestOp.setFlushedSequence(10)]);
    await manifest.commit([ManifestOp.addSst(sstEntry(2)), ManifestOp.setFlushedSequence(20)]);
    // A compaction: its output replaces its inputs in one edit.
    await manifest.commit([ManifestOp.addSst(sstEntry(3)), ManifestOp.removeSst(1), ManifestOp.removeSst(2)]);
    await manifest.commit([ManifestOp.alterSchema(schemaAtVersion(2))]);
    await manifest.commit([ManifestOp.alterOptions({ ttl: "30d", update_mode: "APPEND" })]);

    const state = manifest.state;
    expect(state.version).toBe(7);
    expect([...state.ssts.keys()]).toEqual([3]);
    expect(state.ssts.get(3)).toEqual(sstEntry(3));
    expect(state.flushedSequence).toBe(20);
    expect(state.schema).toEqual(schemaAtVersion(2));
    expect(state.options).toEqual({
      ...formatTableOptions(DEFAULT_TABLE_OPTIONS),
      ttl: "30d",
      update_mode: "APPEND",
    });
    expect(manifest.tableOptions.updateMode).toBe("APPEND");
    expect((await reload()).state).toEqual(state);
  });

  it("writes one compact JSON object per edit that names its version and operations", async () => {
    const manifest = await newManifest();
    await manifest.commit([ManifestOp.allocateFileIds(1), ManifestOp.addSst(sstEntry(1))]);
    const text = new TextDecoder().decode(await temp.store.get(editKey(PREFIX, 2)));
    expect(text).not.toMatch(/\n/);
    expect(JSON.parse(text)).toEqual({
      format: 2,
      kind: "edit",
      version: 2,
      ops: [
        { type: "allocateFileIds", count: 1 },
        { type: "addSst", sst: sstEntry(1) },
      ],
      crc32c: expect.stringMatching(/^[0-9a-f]{8}$/) as unknown,
    });
    expect(text).toMatch(/,"crc32c":"[0-9a-f]{8}"\}$/);
  });

  it("keeps schema defaults that plain JSON cannot hold (bigint, bytes, NaN)", async () => {
    const schema = TableSchema.create({
      columns: [
        { name: "ts", type: DataType.Timestamp },
        { name: "big", type: DataType.UInt64, defaultValue: 18_446_744_073_709_551_615n },
        { name: "raw", type: DataType.Varbinary, defaultValue: new Uint8Array([0, 1, 254, 255]) },
        { name: "nan", type: DataType.Double, defaultValue: Number.NaN },
        { name: "neg", type: DataType.Double, defaultValue: Number.NEGATIVE_INFINITY },
        { name: "s", type: DataType.String, defaultValue: "x" },
      ],
      timestampColumn: "ts",
    }).toJSON();
    const manifest = await TableManifest.create(temp.store, PREFIX, { schema, options: {} });
    expect(manifest.state.schema).toEqual(schema);
    expect((await reload()).state.schema).toEqual(schema);
  });

  it("hands out file ids that are never handed out again, also after a reload", async () => {
    const manifest = await newManifest();
    expect(await manifest.allocateFileIds(5)).toBe(FIRST_FILE_ID);
    expect(await manifest.allocateFileIds(2)).toBe(FIRST_FILE_ID + 5);
    expect(await (await reload()).allocateFileIds(1)).toBe(FIRST_FILE_ID + 7);
  });

  it("serialises concurrent commits of one manifest into consecutive versions", async () => {
    const manifest = await newManifest(4);
    const states = await Promise.all(
      Array.from({ length: 10 }, (_, i) => manifest.commit([ManifestOp.setFlushedSequence(i)])),
    );
    expect(states.map((s) => s.version).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(manifest.version).toBe(11);
    expect((await reload()).state).toEqual(manifest.state);
  });
});

describe("TableManifest rules", () => {
  async function expectRejected(
    manifest: TableManifest,
    edit: Parameters<TableManifest["commit"]>[0],
    path: RegExp,
  ) {
    const before = manifest.state;
    const objects = await listManifest(temp.store);
    const error = await manifest.commit(edit).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ManifestEditError);
    expect((error as ManifestEditError).path).toMatch(path);
    expect((error as ManifestEditError).prefix).toBe(PREFIX);
    expect(manifest.state).toBe(before);
    expect(await listManifest(temp.store)).toEqual(objects);
  }

  it("never lets the flushed sequence decrease (an equal one is a no-op)", async () => {
    const manifest = await newManifest();
    await manifest.commit([ManifestOp.setFlushedSequence(100)]);
    await expectRejected(manifest, [ManifestOp.setFlushedSequence(99)], /^ops\[0\]\.sequence$/);
    // Within one edit as well.
    await expectRejected(
      manifest,
      [ManifestOp.setFlushedSequence(200), ManifestOp.setFlushedSequence(150)],
      /^ops\[1\]\.sequence$/,
    );
    await manifest.commit([ManifestOp.setFlushedSequence(100)]);
    expect(manifest.state.flushedSequence).toBe(100);
    expect((await reload()).state.flushedSequence).toBe(100);
  });

  it("never lets the schema version stay or decrease", async () => {
    const manifest = await TableManifest.create(temp.store, PREFIX, {
      schema: schemaAtVersion(3),
      options: {},
    });
    await expectRejected(manifest, [ManifestOp.alterSchema(schemaAtVersion(3))], /schema\.version$/);
    await expectRejected(manifest, [ManifestOp.alterSchema(schemaAtVersion(2))], /schema\.version$/);
    await manifest.commit([ManifestOp.alterSchema(schemaAtVersion(4))]);
    expect((await reload()).state.schema.version).toBe(4);
  });

  it("rejects SSTs with unallocated or duplicate ids, unknown removals and too new schemas", async () => {
    const manifest = await newManifest();
    await expectRejected(manifest, [ManifestOp.addSst(sstEntry(1))], /fileId$/);
    await manifest.commit([ManifestOp.allocateFileIds(2), ManifestOp.addSst(sstEntry(1))]);
    await expectRejected(manifest, [ManifestOp.addSst(sstEntry(1))], /fileId$/);
    await expectRejected(manifest, [ManifestOp.removeSst(2)], /fileId$/);
    await expectRejected(manifest, [ManifestOp.addSst(sstEntry(2, { schemaVersion: 2 }))], /schemaVersion$/);
    // A compaction whose input is gone (removed by another compaction) must not half-apply.
    await expectRejected(
      manifest,
      [ManifestOp.addSst(sstEntry(2)), ManifestOp.removeSst(1), ManifestOp.removeSst(1)],
      /ops\[2\]/,
    );
  });

  it("rejects malformed values and empty or unserialisable edits", async () => {
    const manifest = await newManifest();
    await manifest.commit([ManifestOp.allocateFileIds(5)]);
    await expectRejected(manifest, [], /^ops$/);
    await expectRejected(manifest, [ManifestOp.allocateFileIds(0)], /count$/);
    await expectRejected(manifest, [ManifestOp.setFlushedSequence(1.5)], /sequence$/);
    await expectRejected(manifest, [ManifestOp.addSst(sstEntry(1, { size: -1 }))], /size$/);
    await expectRejected(manifest, [ManifestOp.addSst(sstEntry(1, { key: "" }))], /key$/);
    await expectRejected(
      manifest,
      [ManifestOp.addSst(sstEntry(1, { timeRange: { min: 10, max: 9 } }))],
      /timeRange$/,
    );
    await expectRejected(manifest, [ManifestOp.addSst(sstEntry(1, { meta: { min: 1n } }))], /^ops\[0\]$/);
    await expectRejected(manifest, [ManifestOp.alterOptions({ ttl: "-1d" })], /options$/);
  });

  it("stores what a later load reads: meta values JSON drops are dropped in memory too", async () => {
    const manifest = await newManifest();
    await manifest.commit([
      ManifestOp.allocateFileIds(1),
      ManifestOp.addSst(sstEntry(1, { meta: { kept: 1, dropped: undefined } })),
    ]);
    expect(manifest.state.ssts.get(1)?.meta).toEqual({ kept: 1 });
    expect(Object.keys(manifest.state.ssts.get(1)?.meta as object)).toEqual(["kept"]);
    expect((await reload()).state).toEqual(manifest.state);
  });
});

describe("TableManifest snapshots", () => {
  it("writes a snapshot every N edits and removes the edits and snapshots it covers", async () => {
    const manifest = await newManifest(3);
    await manifest.commit([ManifestOp.setFlushedSequence(1)]);
    expect(await listManifest(temp.store)).toEqual([editName(1), editName(2)]);
    await manifest.commit([ManifestOp.setFlushedSequence(2)]);
    expect(await listManifest(temp.store)).toEqual([snapshotName(3)]);
    await manifest.commit([ManifestOp.setFlushedSequence(3)]);
    await manifest.commit([ManifestOp.setFlushedSequence(4)]);
    expect(await listManifest(temp.store)).toEqual([editName(4), editName(5), snapshotName(3)]);
    await manifest.commit([ManifestOp.setFlushedSequence(5)]);
    expect(await listManifest(temp.store)).toEqual([snapshotName(6)]);
    await manifest.commit([ManifestOp.setFlushedSequence(6)]);
    expect(await listManifest(temp.store)).toEqual([editName(7), snapshotName(6)]);
    expect((await reload(3)).state).toEqual(manifest.state);
  });

  it("defaults to a snapshot every 20 edits", async () => {
    const manifest = await TableManifest.create(temp.store, PREFIX, { schema: cpuSchema(), options: {} });
    for (let i = 0; i < 18; i++) await manifest.commit([ManifestOp.setFlushedSequence(i)]);
    expect(await listManifest(temp.store)).toHaveLength(19);
    await manifest.commit([ManifestOp.setFlushedSequence(100)]);
    expect(await listManifest(temp.store)).toEqual([snapshotName(20)]);
  });

  it("snapshots the full state: SSTs with their meta, schema, options, file ids", async () => {
    const manifest = await newManifest(100);
    await manifest.commit([ManifestOp.allocateFileIds(10)]);
    for (let id = 1; id <= 5; id++) await manifest.commit([ManifestOp.addSst(sstEntry(id))]);
    await manifest.commit([
      ManifestOp.alterSchema(schemaAtVersion(2)),
      ManifestOp.alterOptions({ ttl: "2d" }),
    ]);
    await manifest.commit([ManifestOp.removeSst(3), ManifestOp.setFlushedSequence(77)]);
    await manifest.snapshot();
    expect(await listManifest(temp.store)).toEqual([snapshotName(9)]);
    const snapshot = JSON.parse(new TextDecoder().decode(await temp.store.get(snapshotKey(PREFIX, 9)))) as {
      ssts: Array<{ fileId: number }>;
    };
    expect(snapshot.ssts.map((s) => s.fileId)).toEqual([1, 2, 4, 5]);
    expect((await reload()).state).toEqual(manifest.state);
  });

  it("keeps committing when a snapshot cannot be written, and snapshots at the next commit", async () => {
    const errors: unknown[] = [];
    await newManifest(2);
    const store = new AlteredObjectStore(temp.store, {
      failPuts: { effect: "lost", when: (key) => key.includes("/snapshot-") },
    });
    const manifest = await TableManifest.load(store, PREFIX, {
      snapshotEvery: 2,
      onSnapshotError: (e) => errors.push(e),
    });
    await manifest?.commit([ManifestOp.setFlushedSequence(1)]);
    await manifest?.commit([ManifestOp.setFlushedSequence(2)]);
    expect(errors).toHaveLength(2);
    expect(manifest?.version).toBe(3);
    expect(await listManifest(temp.store)).toEqual([editName(1), editName(2), editName(3)]);
    const healthy = await reload(2);
    expect(healthy.state).toEqual(manifest?.state);
    await healthy.commit([ManifestOp.setFlushedSequence(3)]);
    expect(await listManifest(temp.store)).toEqual([snapshotName(4)]);
  });
});

describe("TableManifest conflicts", () => {
  it("lets only one of two writers of the same version win; the loser's state is unchanged", async () => {
    await newManifest();
    const a = await reload();
    const b = await reload();
    await a.commit([ManifestOp.setFlushedSequence(5)]);
    const before = b.state;
    const error = await b.commit([ManifestOp.setFlushedSequence(6)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestConflictError);
    expect((error as ManifestConflictError).key).toBe(editKey(PREFIX, 2));
    expect((error as ManifestConflictError).version).toBe(2);
    expect(b.state).toBe(before);
    // The loser stays fenced until it explicitly re-reads the manifest.
    await expect(b.commit([ManifestOp.setFlushedSequence(6)])).rejects.toBeInstanceOf(ManifestConflictError);
    expect((await reload()).state.flushedSequence).toBe(5);
    expect((await b.refresh()).flushedSequence).toBe(5);
  });

  it("detects the conflict through the conditional put when head() raced with the other writer", async () => {
    await newManifest();
    const a = await reload();
    const b = await TableManifest.load(
      new AlteredObjectStore(await temp.reopen(), { headSeesNothing: true }),
      PREFIX,
    );
    await a.commit([ManifestOp.setFlushedSequence(5)]);
    await expect(b?.commit([ManifestOp.setFlushedSequence(6)])).rejects.toBeInstanceOf(ManifestConflictError);
    expect(b?.version).toBe(1);
    expect((await reload()).state.flushedSequence).toBe(5);
  });

  it("detects the conflict through head() on stores that ignore conditional puts", async () => {
    await newManifest();
    const a = await reload();
    const b = await TableManifest.load(
      new AlteredObjectStore(await temp.reopen(), { ignoreIfNotExists: true }),
      PREFIX,
    );
    await a.commit([ManifestOp.setFlushedSequence(5)]);
    await expect(b?.commit([ManifestOp.setFlushedSequence(6)])).rejects.toBeInstanceOf(ManifestConflictError);
    expect((await reload()).state.flushedSequence).toBe(5);
  });
});

describe("TableManifest writes with an unknown outcome", () => {
  it("reports an edit whose put failed after writing it as unknown; readers see it", async () => {
    await newManifest();
    const store = new AlteredObjectStore(await temp.reopen(), { failPuts: { effect: "applied" } });
    const flaky = await TableManifest.load(store, PREFIX);
    const error = await flaky?.commit([ManifestOp.setFlushedSequence(5)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestWriteError);
    expect((error as ManifestWriteError).key).toBe(editKey(PREFIX, 2));
    expect(flaky?.state.flushedSequence).toBe(INITIAL_FLUSHED_SEQUENCE);
    expect((await reload()).state.flushedSequence).toBe(5);
  });

  it("commits the next edit at the version the lost put left free", async () => {
    const created = await newManifest();
    const lossy = new AlteredObjectStore(temp.store, { failPuts: { effect: "lost" } });
    const manifest = await TableManifest.load(lossy, PREFIX);
    await expect(manifest?.commit([ManifestOp.setFlushedSequence(5)])).rejects.toBeInstanceOf(
      ManifestWriteError,
    );
    expect(manifest?.state).toEqual(created.state);
    expect(await listManifest(temp.store)).toEqual([editName(1)]);
  });

  it("adopts an edit that landed despite the error when committing next", async () => {
    await newManifest();
    const store = new AlteredObjectStore(await temp.reopen(), { failPuts: { effect: "applied", times: 1 } });
    const manifest = await TableManifest.load(store, PREFIX);
    await expect(manifest?.commit([ManifestOp.setFlushedSequence(5)])).rejects.toBeInstanceOf(
      ManifestWriteError,
    );
    const state = await manifest?.commit([ManifestOp.setFlushedSequence(6)]);
    expect(state?.version).toBe(3);
    expect(state?.flushedSequence).toBe(6);
    expect((await reload()).state).toEqual(state);
  });
});
