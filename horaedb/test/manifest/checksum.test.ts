import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CatalogCorruptionError, StandaloneCatalog } from "../../src/engine/catalog.js";
import { StorageLayout } from "../../src/engine/layout.js";
import { CHECKSUM_TRAILER_BYTES, checkJsonTrailer, sealJson } from "../../src/manifest/checksum.js";
import { decodeEdit, decodeSnapshot, encodeEdit, encodeSnapshot } from "../../src/manifest/codec.js";
import { ManifestDataError } from "../../src/manifest/errors.js";
import {
  editKey,
  loadManifestState,
  MANIFEST_FORMAT,
  ManifestCorruptionError,
  ManifestOp,
  snapshotKey,
  TableManifest,
} from "../../src/manifest/index.js";
import { cpuSchema, openTempStore, PREFIX, sstEntry, type TempStore } from "./fixtures.js";

let temp: TempStore;
beforeEach(async () => {
  temp = await openTempStore();
});
afterEach(async () => {
  await temp.remove();
});

const encode = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Every copy of `bytes` with exactly one bit flipped, with the byte offset and mask. */
function* singleBitFlips(bytes: Uint8Array): Generator<[Uint8Array, number, number]> {
  for (let at = 0; at < bytes.length; at++) {
    for (let bit = 0; bit < 8; bit++) {
      const damaged = bytes.slice();
      damaged[at] = (damaged[at] as number) ^ (1 << bit);
      yield [damaged, at, 1 << bit];
    }
  }
}

/** Every copy of `bytes` with exactly one byte replaced by its complement. */
function* inverted(bytes: Uint8Array): Generator<[Uint8Array, number]> {
  for (let at = 0; at < bytes.length; at++) {
    const damaged = bytes.slice();
    damaged[at] = (damaged[at] as number) ^ 0xff;
    yield [damaged, at];
  }
}

function decodeFails(decode: () => unknown): unknown {
  try {
    decode();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("checksum trailer", () => {
  it("replaces the closing brace by a CRC32C field and keeps the object valid JSON", () => {
    const sealed = sealJson('{"a":1,"b":"x"}');
    expect(text(sealed)).toMatch(/^\{"a":1,"b":"x","crc32c":"[0-9a-f]{8}"\}$/);
    expect(JSON.parse(text(sealed))).toMatchObject({ a: 1, b: "x" });
    expect(text(sealed).length - '{"a":1,"b":"x"'.length).toBe(CHECKSUM_TRAILER_BYTES);
    expect(checkJsonTrailer(sealed)).toEqual({ status: "verified" });
    expect(checkJsonTrailer(encode('{"a":1,"b":"x"}'))).toEqual({ status: "absent" });
  });

  it("reports a mismatch when the body or the digits change", () => {
    const sealed = sealJson('{"sequence":0}');
    const damaged = sealed.slice();
    damaged[12] = 0x32; // '0' -> '2'
    const outcome = checkJsonTrailer(damaged);
    expect(outcome.status).toBe("mismatch");
    expect((outcome as { reason: string }).reason).toContain("checksum mismatch");
  });
});

describe("manifest object checksum", () => {
  const edit = [ManifestOp.setFlushedSequence(7), ManifestOp.allocateFileIds(1), ManifestOp.removeSst(3)];

  it("writes format 2 edits and snapshots that decode back", () => {
    expect(MANIFEST_FORMAT).toBe(2);
    const bytes = encodeEdit(5, edit);
    expect(JSON.parse(text(bytes))).toMatchObject({ format: 2, kind: "edit", version: 5 });
    expect(decodeEdit(bytes, 5)).toEqual(edit);
  });

  it("rejects an edit with any single bit flipped", () => {
    const bytes = encodeEdit(5, edit);
    let mismatches = 0;
    for (const [damaged, at, mask] of singleBitFlips(bytes)) {
      const error = decodeFails(() => decodeEdit(damaged, 5));
      expect(error, `bit ${mask} of byte ${at} flipped`).toBeInstanceOf(ManifestDataError);
      if ((error as Error).message.includes("checksum mismatch")) mismatches++;
    }
    // Only damage to the trailer's fixed text (or the JSON syntax) is caught without the CRC.
    expect(mismatches).toBeGreaterThan((bytes.length - CHECKSUM_TRAILER_BYTES) * 8 - 8);
  });

  it("rejects an edit with any single byte inverted", () => {
    const bytes = encodeEdit(5, edit);
    for (const [damaged, at] of inverted(bytes)) {
      expect(
        decodeFails(() => decodeEdit(damaged, 5)),
        `byte ${at}`,
      ).toBeInstanceOf(ManifestDataError);
    }
  });

  it("rejects a snapshot with any single bit flipped", async () => {
    const manifest = await TableManifest.create(temp.store, PREFIX, { schema: cpuSchema(), options: {} });
    await manifest.commit([ManifestOp.allocateFileIds(1), ManifestOp.addSst(sstEntry(1))]);
    const bytes = encodeSnapshot(manifest.state);
    expect(decodeSnapshot(bytes, manifest.state.version)).toEqual(manifest.state);
    for (const [damaged, at, mask] of singleBitFlips(bytes)) {
      expect(
        decodeFails(() => decodeSnapshot(damaged, manifest.state.version)),
        `bit ${mask} of byte ${at} flipped`,
      ).toBeInstanceOf(ManifestDataError);
    }
  });

  it("names the key and says checksum mismatch when loading a damaged edit", async () => {
    const manifest = await TableManifest.create(temp.store, PREFIX, { schema: cpuSchema(), options: {} });
    await manifest.commit([ManifestOp.setFlushedSequence(10)]);
    const key = editKey(PREFIX, 2);
    const bytes = await temp.store.get(key);
    const at = text(bytes).indexOf('"sequence":10') + '"sequence":'.length;
    const damaged = bytes.slice();
    damaged[at] = 0x33; // 10 -> 30, still valid JSON
    await temp.store.put(key, damaged);

    const error = await loadManifestState(await temp.reopen(), PREFIX).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ManifestCorruptionError);
    expect((error as ManifestCorruptionError).key).toBe(key);
    expect((error as ManifestCorruptionError).message).toContain(key);
    expect((error as ManifestCorruptionError).message).toContain("checksum mismatch");
  });

  it("still loads format 1 objects, which carry no checksum", async () => {
    const manifest = await TableManifest.create(
      temp.store,
      PREFIX,
      { schema: cpuSchema(), options: {} },
      { snapshotEvery: 2 },
    );
    await manifest.commit([ManifestOp.allocateFileIds(2), ManifestOp.addSst(sstEntry(1))]);
    const snapshot = {
      format: 1,
      kind: "snapshot",
      version: 2,
      schema: cpuSchema(),
      options: {},
      flushedSequence: 0,
      nextFileId: 3,
      ssts: [sstEntry(1)],
    };
    await temp.store.put(snapshotKey(PREFIX, 2), encode(JSON.stringify(snapshot)));
    await temp.store.put(
      editKey(PREFIX, 3),
      encode('{"format":1,"kind":"edit","version":3,"ops":[{"type":"setFlushedSequence","sequence":12}]}'),
    );
    const loaded = await TableManifest.load(await temp.reopen(), PREFIX);
    expect(loaded?.version).toBe(3);
    expect(loaded?.state.flushedSequence).toBe(12);
    expect(loaded?.state.ssts.get(1)).toEqual(sstEntry(1));

    // A new commit on top of format 1 objects is written in format 2.
    await loaded?.commit([ManifestOp.setFlushedSequence(13)]);
    expect(JSON.parse(text(await temp.store.get(editKey(PREFIX, 4))))).toMatchObject({ format: 2 });
    expect((await TableManifest.load(await temp.reopen(), PREFIX))?.state.flushedSequence).toBe(13);
  });

  it("rejects a format 1 object with a crc32c field, and a format 2 object without a trailer", () => {
    const legacy = '{"format":1,"kind":"edit","version":5,"ops":[],"crc32c":"0000000g"}';
    expect(decodeFails(() => decodeEdit(encode(legacy), 5))).toBeInstanceOf(ManifestDataError);
    const bare = '{"format":2,"kind":"edit","version":5,"ops":[]}';
    expect(decodeFails(() => decodeEdit(encode(bare), 5))).toBeInstanceOf(ManifestDataError);
    expect(decodeEdit(encode('{"format":1,"kind":"edit","version":5,"ops":[]}'), 5)).toEqual([]);
  });
});

describe("catalog entry checksum", () => {
  const layout = new StorageLayout("testCluster");
  const entryKey = layout.catalogTableKey("public", "cpu");

  async function catalogWithCpu(): Promise<void> {
    const catalog = await StandaloneCatalog.load(temp.store, layout);
    const id = await catalog.allocateId();
    await catalog.add({ id, schemaName: "public", name: "cpu", shardId: 0 });
  }

  async function loadError(): Promise<unknown> {
    return StandaloneCatalog.load(await temp.reopen(), layout).then(
      () => undefined,
      (e: unknown) => e,
    );
  }

  it("writes entries with a trailer and loads them back", async () => {
    await catalogWithCpu();
    expect(text(await temp.store.get(entryKey))).toMatch(/,"crc32c":"[0-9a-f]{8}"\}$/);
    expect(text(await temp.store.get(layout.catalogTableIdKey()))).toMatch(/,"crc32c":"[0-9a-f]{8}"\}$/);
    const catalog = await StandaloneCatalog.load(await temp.reopen(), layout);
    expect(catalog.get("public", "cpu")).toEqual({
      id: 1,
      schemaName: "public",
      name: "cpu",
      shardId: 0,
      createdAt: expect.any(Number) as unknown,
    });
    expect(catalog.nextId).toBe(2);
  });

  it("rejects an entry with any single bit flipped, naming its key", async () => {
    await catalogWithCpu();
    const bytes = await temp.store.get(entryKey);
    for (const [damaged, at, mask] of singleBitFlips(bytes)) {
      await temp.store.put(entryKey, damaged);
      const error = await loadError();
      expect(error, `bit ${mask} of byte ${at} flipped`).toBeInstanceOf(CatalogCorruptionError);
      expect((error as CatalogCorruptionError).key).toBe(entryKey);
    }
  });

  it("says checksum mismatch for a flipped digit", async () => {
    await catalogWithCpu();
    const bytes = await temp.store.get(entryKey);
    const at = text(bytes).indexOf('"id":1') + '"id":'.length;
    const damaged = bytes.slice();
    damaged[at] = 0x33; // id 1 becomes 3
    await temp.store.put(entryKey, damaged);
    const error = await loadError();
    expect(error).toBeInstanceOf(CatalogCorruptionError);
    expect((error as CatalogCorruptionError).message).toContain(entryKey);
    expect((error as CatalogCorruptionError).message).toContain("checksum mismatch");
  });

  it("still loads entries and the id counter written without a checksum", async () => {
    await temp.store.put(
      entryKey,
      encode('{"id":4,"schemaName":"public","name":"cpu","shardId":0,"createdAt":1700000000000}'),
    );
    await temp.store.put(layout.catalogTableIdKey(), encode('{"nextId":9}'));
    const catalog = await StandaloneCatalog.load(await temp.reopen(), layout);
    expect(catalog.get("public", "cpu")?.id).toBe(4);
    expect(catalog.nextId).toBe(9);

    await temp.store.put(
      entryKey,
      encode('{"id":4,"schemaName":"public","name":"cpu","shardId":0,"createdAt":1,"crc32c":"0000000g"}'),
    );
    expect(await loadError()).toBeInstanceOf(CatalogCorruptionError);
  });
});
