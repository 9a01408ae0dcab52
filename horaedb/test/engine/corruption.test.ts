import { readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CatalogCorruptionError } from "../../src/engine/catalog.js";
import { StorageEngine } from "../../src/engine/engine.js";
import { ReplayError } from "../../src/engine/shard.js";
import { ManifestCorruptionError } from "../../src/manifest/errors.js";
import { SstCorruptionError, SstNotFoundError } from "../../src/sst/errors.js";
import { WalCorruptionError } from "../../src/wal/local/errors.js";
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from "../../src/wal/local/record-format.js";
import { cpuRows, scanAll, tempEngineDir, type CpuRow, type TempEngine } from "./engine-fixtures.js";

/**
 * Damaged files under a standalone data dir: `wal/shard-0/*.wal` segments, and in the local object
 * store `store/standalone/tables/<id>/{sst,manifest}/` and `store/standalone/catalog/`. Damage that
 * can only be a torn, never-acknowledged write is repaired; anything else is a typed error naming
 * the file (and offset) or object key - rows are never silently skipped.
 */

const project = { projection: ["host", "ts", "usage"] };
const CLUSTER = "standalone";

interface WalRecordSpan {
  /** Byte offset of the record header in its segment file. */
  readonly offset: number;
  /** One past its last payload byte. */
  readonly end: number;
}

/** The records of a segment file, walked by the documented layout (44-byte header, u32 length at 32). */
async function recordsOf(path: string): Promise<WalRecordSpan[]> {
  const bytes = await readFile(path);
  const out: WalRecordSpan[] = [];
  let offset = SEGMENT_HEADER_BYTES;
  while (offset + RECORD_HEADER_BYTES <= bytes.length) {
    const end = offset + RECORD_HEADER_BYTES + bytes.readUInt32LE(offset + 32);
    if (end > bytes.length) break;
    out.push({ offset, end });
    offset = end;
  }
  expect(offset, `${path} ends on a record boundary`).toBe(bytes.length);
  return out;
}

async function segmentFiles(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, "wal", "shard-0");
  return (await readdir(dir))
    .filter((f) => f.endsWith(".wal"))
    .sort()
    .map((f) => join(dir, f));
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  expect(offset).toBeLessThan(bytes.length);
  bytes[offset] = (bytes[offset] as number) ^ 0xff;
  await writeFile(path, bytes);
}

/** Resolves with what `promise` rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${String(value)}`);
    },
    (error: unknown) => error,
  );
}

async function drain(engine: StorageEngine, table: string): Promise<number> {
  let rows = 0;
  for await (const batch of engine.scan("public", table)) rows += batch.numRows;
  return rows;
}

/** Rows of the `n`th write: two hosts at a timestamp of their own. */
function writeNo(n: number): CpuRow[] {
  return [
    { host: "a", ts: 1000 * (n + 1), usage: n },
    { host: "b", ts: 1000 * (n + 1), usage: n + 0.5 },
  ];
}

function rowsOfWrites(writes: readonly number[]): CpuRow[] {
  return writes.flatMap(writeNo).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
}

/** The engine's `compact`, when it has one (compaction is being added). */
type Compact = (schemaName?: string, name?: string) => Promise<unknown>;

function compactOf(engine: object): Compact | undefined {
  const candidate = (engine as { compact?: unknown }).compact;
  return typeof candidate === "function" ? (candidate as Compact).bind(engine) : undefined;
}

describe("corrupt and truncated files", () => {
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

  /** Opens the engine, writes `count` separate records to `cpu` (none flushed), closes it cleanly. */
  async function writeRecords(count: number, walSegmentBytes?: number): Promise<void> {
    const opened = await dir.open(walSegmentBytes === undefined ? {} : { walSegmentBytes });
    for (let n = 0; n < count; n++) await opened.write("public", "cpu", cpuRows(writeNo(n)));
    await opened.close();
  }

  describe("WAL", () => {
    it.each([
      ["inside the payload", (r: WalRecordSpan) => r.offset + RECORD_HEADER_BYTES + 5],
      ["inside the record header", (r: WalRecordSpan) => r.offset + 10],
      ["one byte short of the end", (r: WalRecordSpan) => r.end - 1],
    ])(
      "cuts a truncated tail record (%s): complete records replay, the cut one is gone, writes go on",
      async (_where, cutAt) => {
        await writeRecords(5);
        const [segment] = await segmentFiles(dir.dataDir);
        const records = await recordsOf(segment as string);
        expect(records).toHaveLength(5);
        await truncate(segment as string, cutAt(records[4] as WalRecordSpan));

        engine = await dir.open();
        expect(await scanAll(engine, "cpu", project)).toEqual(rowsOfWrites([0, 1, 2, 3]));
        await engine.write("public", "cpu", cpuRows(writeNo(10)));
        expect(await scanAll(engine, "cpu", project)).toEqual(rowsOfWrites([0, 1, 2, 3, 10]));

        // The new write took the cut record's place for good: it survives a restart, the cut one
        // does not come back.
        await engine.close();
        engine = await dir.open();
        expect(await scanAll(engine, "cpu", project)).toEqual(rowsOfWrites([0, 1, 2, 3, 10]));
      },
    );

    it.each([
      ["payload", (r: WalRecordSpan) => r.offset + RECORD_HEADER_BYTES + 3],
      ["header (table id)", (r: WalRecordSpan) => r.offset + 16],
      ["checksum", (r: WalRecordSpan) => r.offset + 40],
    ])(
      "refuses to open when a record followed by later records has a flipped byte (%s), naming file and offset",
      async (_where, flipAt) => {
        await writeRecords(5);
        const [segment] = await segmentFiles(dir.dataDir);
        const records = await recordsOf(segment as string);
        const damaged = records[2] as WalRecordSpan;
        await flipByte(segment as string, flipAt(damaged));

        const error = await rejection(dir.open());
        expect(error).toBeInstanceOf(WalCorruptionError);
        const wal = error as WalCorruptionError;
        expect(wal.path).toBe(segment);
        expect(wal.offset).toBe(damaged.offset);
        expect(wal.message).toContain(segment as string);
        expect(wal.message).toContain(`byte offset ${damaged.offset}`);
      },
    );

    it("fails the replay when a record of an older (sealed) segment has a flipped byte", async () => {
      // Small segments: every write group gets a segment of its own.
      await writeRecords(6, 256);
      const segments = await segmentFiles(dir.dataDir);
      expect(segments.length).toBeGreaterThanOrEqual(4);
      const sealed = segments[1] as string;
      const [damaged] = await recordsOf(sealed);
      await flipByte(sealed, (damaged as WalRecordSpan).offset + RECORD_HEADER_BYTES + 7);

      // Open checks only the last segment's records; the replay reads this one and must stop there.
      const error = await rejection(dir.open({ walSegmentBytes: 256 }));
      expect(error).toBeInstanceOf(WalCorruptionError);
      const wal = error as WalCorruptionError;
      expect(wal.path).toBe(sealed);
      expect(wal.offset).toBe((damaged as WalRecordSpan).offset);
      expect(wal.message).toContain(`${sealed} at byte offset ${wal.offset}`);
    });

    /**
     * Known bug (StorageEngine.open / Shard.replay): nothing compares the WAL's next sequence with the
     * tables' flushed sequences. When the segments are gone (the WAL README names the manifest's
     * flushed sequences as the guard), the WAL restarts at sequence 0 below the table's flushed
     * sequence 2: the unflushed row is silently gone, and a write acknowledged after the reopen
     * gets sequence 0, which the next replay skips as already flushed - an acknowledged row lost.
     */
    it("refuses to open when the WAL ends below a table's flushed sequence (segments deleted)", async () => {
      const opened = await dir.open();
      for (let n = 0; n < 3; n++) await opened.write("public", "cpu", cpuRows(writeNo(n)));
      await opened.flush();
      await opened.write("public", "cpu", cpuRows(writeNo(3)));
      await opened.close();
      for (const segment of await segmentFiles(dir.dataDir)) await rm(segment);

      const outcome = await dir.open().then(
        async (reopened) => {
          // Show the loss the missing check leads to, then report that the open went through.
          const { sequence } = await reopened.write("public", "cpu", cpuRows(writeNo(4)));
          await reopened.close();
          engine = await dir.open();
          const rows = await scanAll(engine, "cpu", project);
          return `opened; a write acknowledged at sequence ${sequence} then read back as ${rows.length - 6} of 2 rows`;
        },
        (error: unknown) => error,
      );
      expect(outcome).toBeInstanceOf(ReplayError);
      expect(String(outcome)).toMatch(/has flushed up to sequence \d+: WAL segments are missing/);
    });

    it("refuses to open when a segment file header is damaged, naming the file", async () => {
      await writeRecords(4, 256);
      const segments = await segmentFiles(dir.dataDir);
      const last = segments.at(-1) as string;
      await flipByte(last, 9); // inside the first-sequence field, covered by the header CRC

      const error = await rejection(dir.open({ walSegmentBytes: 256 }));
      expect(error).toBeInstanceOf(WalCorruptionError);
      expect((error as WalCorruptionError).path).toBe(last);
      expect((error as WalCorruptionError).message).toContain(last);
    });
  });

  describe("SSTs", () => {
    /** `cpu` and `mem` each flushed to one SST; returns the key and path of cpu's SST. */
    async function twoFlushedTables(): Promise<{ key: string; path: string }> {
      const opened = await dir.open();
      await opened.write("public", "cpu", cpuRows(writeNo(0)));
      await opened.write("public", "mem", cpuRows(writeNo(1)));
      await opened.flush();
      const id = opened.table("public", "cpu")?.id;
      await opened.close();
      const sstDir = join(dir.dataDir, "store", CLUSTER, "tables", String(id), "sst");
      const files = (await readdir(sstDir)).filter((f) => f.endsWith(".parquet"));
      expect(files).toHaveLength(1);
      const file = files[0] as string;
      return { key: `${CLUSTER}/tables/${id}/sst/${file}`, path: join(sstDir, file) };
    }

    /** The other table reads, every table takes writes and flushes, and the engine closes cleanly. */
    async function expectUsableForOthers(opened: StorageEngine): Promise<void> {
      expect(await scanAll(opened, "mem", project)).toEqual(rowsOfWrites([1]));
      await opened.write("public", "mem", cpuRows(writeNo(2)));
      await opened.write("public", "cpu", cpuRows(writeNo(3)));
      expect(await scanAll(opened, "mem", project)).toEqual(rowsOfWrites([1, 2]));
      await opened.flush("public", "mem");
      expect(await scanAll(opened, "mem", project)).toEqual(rowsOfWrites([1, 2]));
    }

    it("fails a scan of a table whose SST has a flipped byte with SstCorruptionError naming the key", async () => {
      const { key, path } = await twoFlushedTables();
      const size = (await readFile(path)).length;
      await flipByte(path, Math.floor(size / 2));

      engine = await dir.open();
      const error = await rejection(drain(engine, "cpu"));
      expect(error).toBeInstanceOf(SstCorruptionError);
      expect((error as SstCorruptionError).key).toBe(key);
      expect((error as SstCorruptionError).message).toContain(key);
      await expectUsableForOthers(engine);
      // Still failing, not silently missing rows, after more writes.
      expect(await rejection(drain(engine, "cpu"))).toBeInstanceOf(SstCorruptionError);
    });

    it("fails a scan of a table whose SST is missing with SstNotFoundError naming the key", async () => {
      const { key, path } = await twoFlushedTables();
      await rm(path);

      engine = await dir.open();
      const error = await rejection(drain(engine, "cpu"));
      expect(error).toBeInstanceOf(SstNotFoundError);
      expect((error as SstNotFoundError).key).toBe(key);
      expect((error as SstNotFoundError).message).toContain(key);
      await expectUsableForOthers(engine);
      expect(await rejection(drain(engine, "cpu"))).toBeInstanceOf(SstNotFoundError);
    });

    // Compaction is new; this runs once the engine has it.
    it.runIf(typeof compactOf(StorageEngine.prototype) === "function")(
      "fails compaction of the table with the corrupt SST, and compacts the others",
      async () => {
        const opened = await dir.open();
        for (let n = 0; n < 4; n++) {
          await opened.write("public", "cpu", cpuRows(writeNo(n)));
          await opened.write("public", "mem", cpuRows(writeNo(n)));
          await opened.flush();
        }
        const id = opened.table("public", "cpu")?.id;
        await opened.close();
        const sstDir = join(dir.dataDir, "store", CLUSTER, "tables", String(id), "sst");
        const files = (await readdir(sstDir)).filter((f) => f.endsWith(".parquet")).sort();
        expect(files).toHaveLength(4);
        const damaged = files[1] as string;
        const path = join(sstDir, damaged);
        await flipByte(path, Math.floor((await readFile(path)).length / 3));

        engine = await dir.open();
        const compact = compactOf(engine) as Compact;
        const error = await rejection(compact("public", "cpu"));
        expect(error).toBeInstanceOf(SstCorruptionError);
        expect((error as SstCorruptionError).key).toBe(`${CLUSTER}/tables/${id}/sst/${damaged}`);
        await compact("public", "mem");
        expect(await scanAll(engine, "mem", project)).toEqual(rowsOfWrites([0, 1, 2, 3]));
        // Nothing of cpu was replaced: its scan still fails on the same file.
        const again = await rejection(drain(engine, "cpu"));
        expect((again as SstCorruptionError).key).toBe(`${CLUSTER}/tables/${id}/sst/${damaged}`);
      },
    );

    it("fails a scan of a truncated SST with SstCorruptionError", async () => {
      const { key, path } = await twoFlushedTables();
      const size = (await readFile(path)).length;
      await truncate(path, size - 100);

      engine = await dir.open();
      const error = await rejection(drain(engine, "cpu"));
      expect(error).toBeInstanceOf(SstCorruptionError);
      expect((error as SstCorruptionError).key).toBe(key);
      await expectUsableForOthers(engine);
    });
  });

  describe("manifest and catalog", () => {
    /** `cpu` with one flush; returns its manifest directory and the key prefix of its objects. */
    async function flushedTable(flushes = 1): Promise<{ manifestDir: string; keyPrefix: string }> {
      const opened = await dir.open();
      for (let n = 0; n < flushes; n++) {
        await opened.write("public", "cpu", cpuRows(writeNo(n)));
        await opened.flush();
      }
      const id = opened.table("public", "cpu")?.id;
      await opened.close();
      return {
        manifestDir: join(dir.dataDir, "store", CLUSTER, "tables", String(id), "manifest"),
        keyPrefix: `${CLUSTER}/tables/${id}/manifest/`,
      };
    }

    async function latest(manifestDir: string, kind: "edit" | "snapshot"): Promise<string> {
      const names = (await readdir(manifestDir)).filter((f) => f.startsWith(`${kind}-`)).sort();
      const name = names.at(-1);
      expect(name, `a ${kind} object in ${manifestDir}`).toBeDefined();
      return name as string;
    }

    it.each([
      ["truncated", (bytes: Buffer) => bytes.subarray(0, Math.floor(bytes.length / 2))],
      ["a brace flipped", (bytes: Buffer) => Buffer.concat([Buffer.from("["), bytes.subarray(1)])],
      [
        "invalid UTF-8",
        (bytes: Buffer) => Buffer.concat([bytes.subarray(0, 20), Buffer.from([0xff]), bytes.subarray(21)]),
      ],
      ["empty", () => Buffer.alloc(0)],
    ])(
      "refuses to open when the latest manifest edit is %s, with ManifestCorruptionError naming the key",
      async (_how, damage) => {
        const { manifestDir, keyPrefix } = await flushedTable();
        const name = await latest(manifestDir, "edit");
        const path = join(manifestDir, name);
        await writeFile(path, damage(await readFile(path)));

        const error = await rejection(dir.open());
        expect(error).toBeInstanceOf(ManifestCorruptionError);
        expect((error as ManifestCorruptionError).key).toBe(`${keyPrefix}${name}`);
        expect((error as ManifestCorruptionError).message).toContain(`${keyPrefix}${name}`);
      },
    );

    /**
     * One flipped bit turns the flushed sequence 0 into 2 ('0' is 0x30, '2' is 0x32) and the JSON
     * stays valid: without the checksum, the replay would skip the two unflushed, acknowledged writes
     * at sequences 1 and 2 without a word.
     */
    it("refuses to open when one bit of a manifest edit is flipped and the JSON stays valid", async () => {
      const opened = await dir.open();
      await opened.write("public", "cpu", cpuRows(writeNo(0)));
      await opened.flush();
      await opened.write("public", "cpu", cpuRows(writeNo(1)));
      await opened.write("public", "cpu", cpuRows(writeNo(2)));
      const id = opened.table("public", "cpu")?.id;
      await opened.close();
      const manifestDir = join(dir.dataDir, "store", CLUSTER, "tables", String(id), "manifest");
      const name = await latest(manifestDir, "edit");
      const path = join(manifestDir, name);
      const bytes = await readFile(path);
      const at = bytes.indexOf('"type":"setFlushedSequence","sequence":0');
      expect(at).toBeGreaterThan(0);
      const digit = at + '"type":"setFlushedSequence","sequence":'.length;
      bytes[digit] = (bytes[digit] as number) ^ 0x02;
      await writeFile(path, bytes);

      const outcome = await dir.open().then(
        async (reopened) => {
          engine = reopened;
          return `opened with ${(await scanAll(reopened, "cpu", project)).length} of 6 rows`;
        },
        (error: unknown) => error,
      );
      const key = `${CLUSTER}/tables/${id}/manifest/${name}`;
      expect(outcome).toBeInstanceOf(ManifestCorruptionError);
      expect((outcome as ManifestCorruptionError).key).toBe(key);
      expect((outcome as ManifestCorruptionError).message).toContain(key);
      expect((outcome as ManifestCorruptionError).message).toContain("checksum mismatch");
    });

    it("refuses to open when a manifest snapshot is damaged, naming its key", async () => {
      // Each flush commits two edits; a snapshot is written every 20.
      const { manifestDir, keyPrefix } = await flushedTable(11);
      const name = await latest(manifestDir, "snapshot");
      const path = join(manifestDir, name);
      const bytes = await readFile(path);
      await writeFile(path, bytes.subarray(0, bytes.length - 2));

      const error = await rejection(dir.open());
      expect(error).toBeInstanceOf(ManifestCorruptionError);
      expect((error as ManifestCorruptionError).key).toBe(`${keyPrefix}${name}`);
    });

    it("refuses to open when a catalog entry is damaged, naming its key", async () => {
      await flushedTable();
      const key = `${CLUSTER}/catalog/tables/public/cpu.json`;
      const path = join(dir.dataDir, "store", key);
      const bytes = await readFile(path);
      await writeFile(path, bytes.subarray(0, bytes.length - 3));

      const error = await rejection(dir.open());
      expect(error).toBeInstanceOf(CatalogCorruptionError);
      expect((error as CatalogCorruptionError).key).toBe(key);
      expect((error as CatalogCorruptionError).message).toContain(key);
    });

    it("refuses to open when one digit of a catalog entry is flipped and the JSON stays valid", async () => {
      await flushedTable();
      const key = `${CLUSTER}/catalog/tables/public/cpu.json`;
      const path = join(dir.dataDir, "store", key);
      const bytes = await readFile(path);
      const at = bytes.indexOf('"shardId":0');
      expect(at).toBeGreaterThan(0);
      const digit = at + '"shardId":'.length;
      bytes[digit] = (bytes[digit] as number) ^ 0x01; // shard 0 becomes shard 1
      await writeFile(path, bytes);

      const error = await rejection(dir.open());
      expect(error).toBeInstanceOf(CatalogCorruptionError);
      expect((error as CatalogCorruptionError).key).toBe(key);
      expect((error as CatalogCorruptionError).message).toContain(key);
      expect((error as CatalogCorruptionError).message).toContain("checksum mismatch");
    });
  });
});
