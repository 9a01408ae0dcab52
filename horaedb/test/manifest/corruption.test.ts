import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  editKey,
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

/** A manifest at version 4 (edits 1-4, no snapshot), or with a snapshot at 3 and edit 4. */
async function fourVersions(snapshotEvery = 100): Promise<void> {
  const manifest = await TableManifest.create(
    temp.store,
    PREFIX,
    { schema: cpuSchema(), options: {} },
    { snapshotEvery },
  );
  await manifest.commit([ManifestOp.allocateFileIds(2), ManifestOp.addSst(sstEntry(1))]);
  await manifest.commit([ManifestOp.setFlushedSequence(10)]);
  await manifest.commit([ManifestOp.addSst(sstEntry(2))]);
}

async function loadError(): Promise<ManifestCorruptionError> {
  const error = await TableManifest.load(await temp.reopen(), PREFIX).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ManifestCorruptionError);
  return error as ManifestCorruptionError;
}

describe("manifest corruption", () => {
  it("names the key of an edit that is not JSON", async () => {
    await fourVersions();
    await temp.store.put(editKey(PREFIX, 3), encode('{"format":1,"kind":"edit","vers'));
    const error = await loadError();
    expect(error.key).toBe(editKey(PREFIX, 3));
    expect(error.prefix).toBe(PREFIX);
    expect(error.message).toContain(editKey(PREFIX, 3));
  });

  it("names the key of an edit that is not UTF-8", async () => {
    await fourVersions();
    await temp.store.put(editKey(PREFIX, 2), new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    expect((await loadError()).key).toBe(editKey(PREFIX, 2));
  });

  it("names the key of an edit whose version field differs from its key", async () => {
    await fourVersions();
    // Edit 2's bytes stored as edit 3.
    await temp.store.put(editKey(PREFIX, 3), await temp.store.get(editKey(PREFIX, 2)));
    const error = await loadError();
    expect(error.key).toBe(editKey(PREFIX, 3));
    expect(error.reason).toMatch(/version 3 .* says 2/);
  });

  it("names the key of an edit with a malformed operation", async () => {
    await fourVersions();
    await temp.store.put(
      editKey(PREFIX, 4),
      encode('{"format":1,"kind":"edit","version":4,"ops":[{"type":"setFlushedSequence","sequence":"11"}]}'),
    );
    const error = await loadError();
    expect(error.key).toBe(editKey(PREFIX, 4));
    expect(error.reason).toContain("ops[0].sequence");
  });

  it("names the key of an edit of an unknown operation or format", async () => {
    await fourVersions();
    await temp.store.put(
      editKey(PREFIX, 4),
      encode('{"format":1,"kind":"edit","version":4,"ops":[{"type":"dropTable"}]}'),
    );
    expect((await loadError()).reason).toContain("dropTable");
    await temp.store.put(editKey(PREFIX, 4), encode('{"format":3,"kind":"edit","version":4,"ops":[]}'));
    expect((await loadError()).reason).toContain("unsupported format 3");
    // Format 2 requires a checksum trailer.
    await temp.store.put(editKey(PREFIX, 4), encode('{"format":2,"kind":"edit","version":4,"ops":[]}'));
    expect((await loadError()).reason).toContain("format 2 object has no well-formed checksum trailer");
  });

  it("names the key of a well-formed edit that cannot apply to the state before it", async () => {
    await fourVersions();
    await temp.store.put(
      editKey(PREFIX, 5),
      encode('{"format":1,"kind":"edit","version":5,"ops":[{"type":"removeSst","fileId":9}]}'),
    );
    const error = await loadError();
    expect(error.key).toBe(editKey(PREFIX, 5));
    expect(error.reason).toMatch(/file id 9 is not in the manifest/);
  });

  it("names the key of a corrupt snapshot, and of an inconsistent one", async () => {
    await fourVersions(3);
    await temp.store.put(snapshotKey(PREFIX, 3), encode("{}"));
    expect((await loadError()).key).toBe(snapshotKey(PREFIX, 3));

    const inconsistent = {
      format: 1,
      kind: "snapshot",
      version: 3,
      schema: cpuSchema(),
      options: {},
      flushedSequence: 10,
      nextFileId: 2,
      ssts: [sstEntry(2)],
    };
    await temp.store.put(snapshotKey(PREFIX, 3), encode(JSON.stringify(inconsistent)));
    const error = await loadError();
    expect(error.key).toBe(snapshotKey(PREFIX, 3));
    expect(error.reason).toMatch(/next file id/);
  });

  it("treats an edit beyond a missing version as corruption, but a missing tail as uncommitted", async () => {
    await fourVersions();
    await temp.store.delete(editKey(PREFIX, 4));
    expect((await TableManifest.load(await temp.reopen(), PREFIX))?.version).toBe(3);

    await temp.store.delete(editKey(PREFIX, 2));
    const error = await loadError();
    expect(error.key).toBe(editKey(PREFIX, 3));
    expect(error.reason).toMatch(/edit 2 before it is missing/);
  });

  it("treats edits without their first version (and no snapshot) as corruption", async () => {
    await fourVersions();
    await temp.store.delete(editKey(PREFIX, 1));
    expect((await loadError()).key).toBe(editKey(PREFIX, 2));
  });
});
