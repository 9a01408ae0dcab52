import { afterEach, describe, expect, it } from "vitest";
import {
  DEFAULT_PICKER_OPTIONS,
  findSequenceConflict,
  groupByWindow,
  pickCompaction,
  sizeTier,
  windowOf,
  type CompactionPickerOptions,
} from "../../src/engine/compaction/index.js";
import type { SstFileEntry } from "../../src/manifest/index.js";
import { keyedBatch, keyedSchema, tableHarness, type TableHarness } from "./compaction-fixtures.js";

const HOUR = 3_600_000;
const SEGMENT = 2 * HOUR;
const MiB = 1024 * 1024;

/** A manifest entry with just what the picker looks at. */
function sst(
  fileId: number,
  seq: number,
  range: [number, number],
  size = 1 * MiB,
  rowCount = 1000,
): SstFileEntry {
  return {
    fileId,
    key: `c/tables/1/sst/${fileId}.parquet`,
    size,
    rowCount,
    timeRange: { min: range[0], max: range[1] },
    maxSequence: seq,
    schemaVersion: 1,
    meta: {},
  };
}

const ids = (files: readonly SstFileEntry[] | undefined) => files?.map((f) => f.fileId);

function pick(ssts: SstFileEntry[], options: Partial<CompactionPickerOptions> = {}, cutoff?: number) {
  return pickCompaction(
    { ssts, segmentDurationMs: SEGMENT, expiredBefore: cutoff },
    { ...DEFAULT_PICKER_OPTIONS, ...options },
  );
}

describe("compaction picker: windows and tiers", () => {
  it("puts a file in the window of its smallest timestamp, even when it spans several", () => {
    expect(windowOf(sst(1, 1, [0, SEGMENT - 1]), SEGMENT)).toBe(0);
    expect(windowOf(sst(2, 1, [SEGMENT, SEGMENT + 5]), SEGMENT)).toBe(1);
    // Written under a longer segment_duration: spans windows 1 to 3, belongs to window 1.
    expect(windowOf(sst(3, 1, [SEGMENT + 1, 3 * SEGMENT + 1]), SEGMENT)).toBe(1);
    const windows = groupByWindow(
      [sst(1, 1, [0, 10]), sst(2, 2, [SEGMENT, SEGMENT + 1]), sst(3, 3, [5, 3 * SEGMENT])],
      SEGMENT,
    );
    expect([...windows].map(([w, files]) => [w, ids(files)])).toEqual([
      [0, [1, 3]],
      [1, [2]],
    ]);
  });

  it("counts every file below the small-file floor as one tier, larger ones by factors of sizeRatio", () => {
    const o = { smallFileBytes: 8 * MiB, sizeRatio: 4 };
    expect(sizeTier(1, o)).toBe(0);
    expect(sizeTier(8 * MiB - 1, o)).toBe(0);
    expect(sizeTier(8 * MiB, o)).toBe(1);
    expect(sizeTier(32 * MiB - 1, o)).toBe(1);
    expect(sizeTier(32 * MiB, o)).toBe(2);
    expect(sizeTier(128 * MiB, o)).toBe(3);
  });

  it("needs minFilesPerJob files in one window", () => {
    // Three in window 0, three in window 1: six files, but no window has four.
    const files = [0, 1, 2].flatMap((i) => [
      sst(i + 1, i + 1, [i * 10, i * 10 + 5]),
      sst(i + 11, i + 11, [SEGMENT + i * 10, SEGMENT + i * 10 + 5]),
    ]);
    expect(pick(files)).toBeUndefined();
    const job = pick([...files, sst(20, 20, [SEGMENT + 100, SEGMENT + 200])]);
    expect(job).toMatchObject({ kind: "merge", window: 1 });
    expect(ids(job?.inputs)).toEqual([11, 12, 13, 20]);
  });

  it("prefers the window with the most files, then the oldest", () => {
    const w0 = [1, 2, 3, 4].map((i) => sst(i, i, [i, i + 1]));
    const w1 = [5, 6, 7, 8, 9].map((i) => sst(i, i, [SEGMENT + i, SEGMENT + i + 1]));
    const w2 = [10, 11, 12, 13].map((i) => sst(i, i, [2 * SEGMENT + i, 2 * SEGMENT + i + 1]));
    expect(pick([...w0, ...w1, ...w2])).toMatchObject({ window: 1 });
    expect(pick([...w0, ...w2])).toMatchObject({ window: 0 });
  });

  it("merges files of similar size only: small files together, large ones together", () => {
    const small = [1, 2, 3, 4].map((i) => sst(i, i, [i * 100, i * 100 + 50], (1 + i) * MiB));
    const large = [5, 6, 7].map((i) => sst(i, i, [i * 100, i * 100 + 50], 40 * MiB));
    expect(ids(pick([...small, ...large])?.inputs)).toEqual([1, 2, 3, 4]);
    // Three small (not enough) and four large of one tier (32-128 MiB).
    const large4 = [5, 6, 7, 8].map((i) => sst(i, i, [i * 100, i * 100 + 50], (40 + i) * MiB));
    expect(ids(pick([...small.slice(0, 3), ...large4])?.inputs)).toEqual([5, 6, 7, 8]);
    // A 100 MiB file is not merged with 10 MiB ones.
    const mixed = [sst(1, 1, [0, 1], 10 * MiB), sst(2, 2, [2, 3], 10 * MiB), sst(3, 3, [4, 5], 10 * MiB)];
    expect(pick([...mixed, sst(4, 4, [6, 7], 100 * MiB)])).toBeUndefined();
  });

  it("bounds a job by files, input bytes and input rows, oldest files first", () => {
    const many = Array.from({ length: 20 }, (_, i) => sst(i + 1, i + 1, [i * 10, i * 10 + 5]));
    expect(ids(pick(many)?.inputs)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(ids(pick(many, { maxInputBytes: 5 * MiB })?.inputs)).toEqual([1, 2, 3, 4, 5]);
    expect(ids(pick(many, { maxInputRows: 6000 })?.inputs)).toEqual([1, 2, 3, 4, 5, 6]);
    // A file too large for a job on its own is skipped, not a blocker.
    const withHuge = [sst(1, 1, [0, 1], MiB, 5000), ...many.slice(1, 5)];
    expect(ids(pick(withHuge, { maxInputRows: 4500 })?.inputs)).toEqual([2, 3, 4, 5]);
  });

  it("only picks jobs that write fewer files than they read", () => {
    const files = [1, 2, 3, 4].map((i) => sst(i, i, [i * 10, i * 10 + 5], MiB, 1000));
    expect(pick(files, { maxOutputFileRows: 1000 })).toBeUndefined();
    expect(ids(pick(files, { maxOutputFileRows: 3000 })?.inputs)).toEqual([1, 2, 3, 4]);
  });

  it("removes whole files past the TTL first, as a job of their own", () => {
    const files = [
      sst(1, 1, [0, 99]),
      sst(2, 2, [50, 150]),
      sst(3, 3, [100, 200]),
      sst(4, 4, [300, 400]),
      sst(5, 5, [500, 600]),
    ];
    // Rows below 150 are expired: file 1 entirely, file 2 only partly (it keeps its row at 150).
    expect(pick(files, {}, 150)).toEqual({ kind: "expire", inputs: [files[0]] });
    expect(pick(files, {}, 151)).toEqual({ kind: "expire", inputs: [files[0], files[1]] });
    expect(pick(files, {}, 0)).toMatchObject({ kind: "merge" });
  });
});

describe("compaction picker: the sequence rule", () => {
  // A1, B2, G3, C4, D5, E6 overlap in time; G is a large file (another tier) between B and C.
  const [A, B, G, C, D, E] = [
    sst(1, 1, [0, 1000]),
    sst(2, 2, [0, 1000]),
    sst(3, 3, [0, 1000], 40 * MiB),
    sst(4, 4, [0, 1000]),
    sst(5, 5, [0, 1000]),
    sst(6, 6, [0, 1000]),
  ] as [SstFileEntry, SstFileEntry, SstFileEntry, SstFileEntry, SstFileEntry, SstFileEntry];
  const all = [A, B, G, C, D, E];

  it("finds the file whose maxSequence lies between the inputs' and overlaps them", () => {
    expect(findSequenceConflict([A, B], all)).toBeUndefined();
    expect(findSequenceConflict([C, D, E], all)).toBeUndefined();
    expect(findSequenceConflict([A, B, C, D], all)).toBe(G);
    expect(findSequenceConflict([B, C], all)).toBe(G);
    // The same sequences without overlap in time are no conflict: no key can be in both.
    const apart = sst(3, 3, [2000, 3000], 40 * MiB);
    expect(findSequenceConflict([A, B, C, D], [A, B, apart, C, D, E])).toBeUndefined();
    // A tie counts as inside the range.
    const tie = sst(7, 4, [10, 20]);
    expect(findSequenceConflict([C, D], [...all, tie])).toBe(tie);
  });

  it("refuses a non-contiguous set of small files, and picks a contiguous one once there is", () => {
    // Tier 0 holds A, B, C, D, E; the only sets of four skip over G.
    expect(pick(all)).toBeUndefined();
    const F = sst(8, 7, [0, 1000]);
    const job = pick([...all, F]);
    expect(ids(job?.inputs)).toEqual([4, 5, 6, 8]);
    expect(findSequenceConflict(job?.inputs ?? [], [...all, F])).toBeUndefined();
  });
});

describe("compaction executor, without the engine", () => {
  let h: TableHarness | undefined;
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
  });

  it("would bring back an overwritten row if it merged files around a newer one (the sequence rule)", async () => {
    h = await tableHarness(keyedSchema(), { enable_ttl: "false" });
    const [a] = await h.flush(keyedBatch([{ host: "k", ts: 1000, value: 1 }]));
    const [b] = await h.flush(keyedBatch([{ host: "k", ts: 1000, value: 2 }]));
    const [c] = await h.flush(keyedBatch([{ host: "j", ts: 1000, value: 3 }]));
    if (a === undefined || b === undefined || c === undefined) throw new Error("flush wrote no file");
    const before = await h.rows();
    expect(before).toEqual([
      { host: "j", ts: 1000, value: 3 },
      { host: "k", ts: 1000, value: 2 },
    ]);
    // The picker would never choose {A, C}: B lies between them.
    expect(findSequenceConflict([a, c], h.files())).toBe(b);
    expect(
      pickCompaction(
        { ssts: h.files(), segmentDurationMs: SEGMENT, expiredBefore: undefined },
        { ...DEFAULT_PICKER_OPTIONS, minFilesPerJob: 2 },
      ),
    ).toMatchObject({ inputs: [a, b, c] });
    // Forced through the executor, the output carries C's sequence and its stale k=1 now beats B.
    await h.run({ kind: "merge", window: 0, inputs: [a, c] });
    expect(await h.rows()).toEqual([
      { host: "j", ts: 1000, value: 3 },
      { host: "k", ts: 1000, value: 1 },
    ]);
  });

  it("refuses a job over the row budget or whose inputs left the manifest, and changes nothing", async () => {
    h = await tableHarness(keyedSchema(), { enable_ttl: "false" });
    for (let f = 0; f < 3; f++) await h.flush(keyedBatch([{ host: "k", ts: f, value: f }]));
    const files = h.files();
    const tooLarge = h.run(
      { kind: "merge", window: 0, inputs: files },
      { options: { maxInputRows: 2, maxOutputFileRows: 10 } },
    );
    await expect(tooLarge).rejects.toMatchObject({ name: "CompactionError", kind: "too_large" });
    const gone = { ...(files[0] as SstFileEntry), fileId: 99 };
    await expect(
      h.run({ kind: "merge", window: 0, inputs: [gone, ...files.slice(1)] }),
    ).rejects.toMatchObject({
      kind: "inputs_changed",
    });
    const aborted = h.run({ kind: "merge", window: 0, inputs: files }, { signal: AbortSignal.abort() });
    await expect(aborted).rejects.toMatchObject({ kind: "aborted" });
    expect(h.files()).toEqual(files);
    expect(await h.sstObjects()).toEqual(files.map((f) => `${f.fileId}.parquet`).sort());
  });
});
