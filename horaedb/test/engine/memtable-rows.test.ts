/**
 * Narrowed memtable snapshots (engine/memtable-rows.ts) against the whole snapshot: the series of
 * a tag filter, and each series' newest rows, must come out as the whole snapshot's rows filtered
 * afterwards, including where two series share a tsid and where writes reached the memtable out
 * of sequence order. Also the sorted read of chunks appended out of time order, the shape a
 * series' rows take in a memtable that concurrent writers fill.
 */
import { describe, expect, it } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { narrowToNewest, narrowToSeries } from "../../src/engine/memtable-rows.js";
import type { TagFilter, TimeRange } from "../../src/engine/row-filter.js";
import { MemtableSet, type MemtableSnapshot } from "../../src/memtable/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { UpdateMode } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";
import { mulberry32 } from "../../src/testing/tsbs.js";

const SCHEMA = TableSchema.create({
  timestampColumn: "ts",
  columns: [
    { name: "host", type: DataType.String, isTag: true },
    { name: "region", type: DataType.String, isTag: true },
    { name: "ts", type: DataType.Timestamp },
    { name: "x", type: DataType.Double },
  ],
});
const NAMES = ["tsid", "host", "region", "ts", "x"];

/** Series and their tsids: (h3, r1) and (h4, r2) share one, as two series hashing alike would. */
const SERIES: ReadonlyArray<readonly [string, string | null, bigint]> = [
  ["h0", "r0", 11n],
  ["h1", "r0", 2n ** 63n + 5n],
  ["h2", null, 7n],
  ["h3", "r1", 99n],
  ["h4", "r2", 99n],
  ["h5", "r1", 2n ** 40n],
];

type Row = CellValue[];

function batchOf(rows: readonly Row[]): ColumnBatch {
  const nulls = (c: number) => rows.map((r) => r[c] === null);
  const validity = (c: number) =>
    nulls(c).some((n) => n) ? Uint8Array.from(nulls(c), (n) => (n ? 0 : 1)) : null;
  return {
    names: NAMES,
    columns: [
      { type: DataType.UInt64, values: BigUint64Array.from(rows, (r) => r[0] as bigint), validity: null },
      { type: DataType.String, values: rows.map((r) => r[1] as string), validity: null },
      {
        type: DataType.String,
        values: rows.map((r) => (r[2] as string | null) ?? ""),
        validity: validity(2),
      },
      { type: DataType.Timestamp, values: Float64Array.from(rows, (r) => r[3] as number), validity: null },
      {
        type: DataType.Double,
        values: Float64Array.from(rows, (r) => (r[4] as number | null) ?? 0),
        validity: validity(4),
      },
    ],
    numRows: rows.length,
  };
}

function rowsOf(batches: Iterable<ColumnBatch>): Row[] {
  const rows: Row[] = [];
  for (const batch of batches) {
    for (let r = 0; r < batch.numRows; r++) rows.push(batch.columns.map((c: Column) => cellAt(c, r)));
  }
  return rows;
}

const text = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? `${x}n` : x));

/** `local`: each chunk's rows lie in a few seconds of their own (as writes arriving in time order). */
function randomSnapshot(random: () => number, updateMode: UpdateMode, local = false): MemtableSnapshot {
  const set = new MemtableSet({ schema: SCHEMA, updateMode });
  const chunks = 1 + Math.floor(random() * 8);
  for (let c = 0; c < chunks; c++) {
    const rows: Row[] = Array.from({ length: Math.floor(random() * 30) }, () => {
      const [host, region, tsid] = SERIES[Math.floor(random() * SERIES.length)]!;
      const second = local ? c * 2 + Math.floor(random() * 4) : Math.floor(random() * 20);
      return [tsid, host, region, second * 1000, random() < 0.3 ? null : c];
    });
    // Sequences out of order now and then, as concurrent writes reach the memtable.
    set.append(batchOf(rows), 100 + c + (random() < 0.3 ? -10 : 0));
    if (random() < 0.15) set.switchMemtable();
  }
  return set.snapshot();
}

function inRange(row: Row, range: TimeRange | undefined): boolean {
  return range === undefined || ((row[3] as number) >= range.start && (row[3] as number) < range.end);
}

function passes(row: Row, filter: TagFilter): boolean {
  return Object.entries(filter).every(([tag, allowed]) => {
    const value = row[NAMES.indexOf(tag)];
    return value !== null && allowed.includes(value as string);
  });
}

describe("narrowed memtable snapshots", () => {
  it("narrowToSeries: the whole snapshot's rows of the filter, in order", () => {
    const random = mulberry32(5);
    let narrowed = 0;
    let pruned = 0;
    for (let round = 0; round < 400; round++) {
      const updateMode = round % 3 === 0 ? UpdateMode.Append : UpdateMode.Overwrite;
      const snapshot = randomSnapshot(random, updateMode, round % 2 === 1);
      const filter: Record<string, string[]> = {};
      filter.host = SERIES.filter(() => random() < 0.2).map(([h]) => h);
      if (random() < 0.3) filter.region = ["r1", "r2"].filter(() => random() < 0.6);
      const range = random() < 0.5 ? undefined : { start: Math.floor(random() * 14) * 1000, end: 14_000 };
      // x is the chunk's number: a bound on it passes the rows of some chunks. A newer row failing
      // it must still hide an older one passing it.
      const comparisons =
        random() < 0.5
          ? undefined
          : [
              {
                column: "x",
                op: random() < 0.5 ? (">" as const) : ("<=" as const),
                value: Math.floor(random() * 8),
              },
            ];
      const meets = (r: Row) =>
        comparisons === undefined ||
        comparisons.every(
          ({ op, value }) =>
            r[4] !== null && (op === ">" ? (r[4] as number) > value : (r[4] as number) <= value),
        );
      const expected = rowsOf(
        snapshot.sortedBatches({ projection: NAMES, ...(range === undefined ? {} : { timeRange: range }) }),
      ).filter((r) => passes(r, filter) && meets(r));
      // With the range, chunks without a row in it are left out too (chunk-local rounds have some).
      const narrow = narrowToSeries(snapshot, filter, range, comparisons, (n) => (pruned += n));
      if (narrow === undefined) continue;
      narrowed++;
      const got = rowsOf(
        narrow.sortedBatches({ projection: NAMES, ...(range === undefined ? {} : { timeRange: range }) }),
      ).filter((r) => passes(r, filter) && meets(r));
      expect(got.map(text), `round ${round} ${text(filter)}`).toEqual(expected.map(text));
      // Far fewer rows to sort and read than the whole snapshot.
      expect(narrow.numRows).toBeLessThanOrEqual(snapshot.numRows / 4);
    }
    expect(narrowed).toBeGreaterThan(100);
    expect(pruned).toBeGreaterThan(10);
  });

  it("narrowToNewest: each tsid's rows at its newest timestamp in the range, as the whole snapshot has them", () => {
    const random = mulberry32(6);
    for (let round = 0; round < 400; round++) {
      const snapshot = randomSnapshot(random, UpdateMode.Overwrite);
      const start = Math.floor(random() * 10) * 1000;
      const range = random() < 0.4 ? undefined : { start, end: start + Math.floor(random() * 15) * 1000 };
      const all = rowsOf(
        snapshot.sortedBatches({ projection: NAMES, ...(range === undefined ? {} : { timeRange: range }) }),
      );
      const newest = new Map<bigint, number>();
      for (const r of all)
        newest.set(r[0] as bigint, Math.max(newest.get(r[0] as bigint) ?? -Infinity, r[3] as number));
      const expected = all.filter((r) => r[3] === newest.get(r[0] as bigint));
      const narrow = narrowToNewest(snapshot, range);
      expect(narrow).toBeDefined();
      const got = rowsOf(
        narrow?.sortedBatches({ projection: NAMES, ...(range === undefined ? {} : { timeRange: range }) }) ??
          [],
      );
      expect(got.map(text), `round ${round} ${text(range)}`).toEqual(expected.map(text));
      expect(all.every((r) => inRange(r, range))).toBe(true);
    }
  });

  it("copies only the key columns to narrow, and reads the others from the memtable's chunks", () => {
    const random = mulberry32(9);
    let checked = 0;
    for (let round = 0; round < 200; round++) {
      const snapshot = randomSnapshot(random, UpdateMode.Overwrite);
      const filter = { host: ["h1"] };
      const series = narrowToSeries(snapshot, filter);
      if (series === undefined || series.isEmpty) continue;
      checked++;
      for (const chunk of series.chunks) {
        for (const [i, name] of chunk.batch.names.entries()) {
          const length = (chunk.batch.columns[i] as Column).values.length;
          expect(length, name).toBe(name === "tsid" || name === "ts" ? chunk.batch.numRows : 0);
        }
      }
      expect(series.rowSources?.every((source) => snapshot.chunks.includes(source.chunk))).toBe(true);
      // Narrowing a narrowed snapshot to each series' newest rows reads the same rows as narrowing
      // the whole one and filtering afterwards.
      const both = narrowToNewest(series, undefined);
      const newest = narrowToNewest(snapshot, undefined);
      const read = (s: MemtableSnapshot | undefined) =>
        rowsOf(s?.sortedBatches({ projection: NAMES }) ?? [])
          .filter((r) => passes(r, filter))
          .map(text);
      expect(read(both), `round ${round}`).toEqual(read(newest));
      expect(both?.rowSources?.every((source) => snapshot.chunks.includes(source.chunk))).toBe(true);
    }
    expect(checked).toBeGreaterThan(50);
  });

  it("reads chunks appended out of time order in key order, and keeps the newest of a repeated key", () => {
    const h0 = (second: number, x: number): Row => [11n, "h0", "r0", second * 1000, x];
    const h5 = (second: number, x: number): Row => [2n ** 40n, "h5", "r1", second * 1000, x];
    const h1 = (second: number, x: number): Row => [2n ** 63n + 5n, "h1", "r0", second * 1000, x];
    const read = (snapshot: MemtableSnapshot | undefined) =>
      rowsOf(snapshot?.sortedBatches({ projection: NAMES }) ?? []).map(
        (r) => `${String(r[1])}@${String(r[3])}=${String(r[4])}`,
      );
    for (const updateMode of [UpdateMode.Overwrite, UpdateMode.Append]) {
      const build = (chunks: ReadonlyArray<readonly Row[]>) => {
        const set = new MemtableSet({ schema: SCHEMA, updateMode });
        chunks.forEach((rows, c) => set.append(batchOf(rows), c + 1));
        return set.snapshot();
      };
      // Concurrent writers: the later seconds of h0 reach the memtable first.
      const h0Chunks = [
        [h0(4, 1), h0(5, 1), h0(6, 1)],
        [h0(0, 0), h0(1, 0), h0(2, 0)],
        [h0(8, 2), h0(9, 2)],
      ];
      const inOrder: Array<[number, number]> = [
        [0, 0],
        [1, 0],
        [2, 0],
        [4, 1],
        [5, 1],
        [6, 1],
        [8, 2],
        [9, 2],
      ];
      expect(read(build(h0Chunks))).toEqual(inOrder.map(([t, x]) => `h0@${t * 1000}=${x}`));
      // The same key again, as a chunk of its own: OVERWRITE keeps the later write, APPEND both.
      const repeated = read(build([...h0Chunks, [h0(6, 3)]])).filter((r) => r.startsWith("h0@6000="));
      expect(repeated).toEqual(
        updateMode === UpdateMode.Overwrite ? ["h0@6000=3"] : ["h0@6000=1", "h0@6000=3"],
      );
      // Two series: time order is not key order when the later series has the smaller tsid.
      expect(
        read(
          build([
            [h5(0, 0), h5(1, 0)],
            [h0(2, 0), h0(3, 0)],
          ]),
        ),
      ).toEqual(["h0@2000=0", "h0@3000=0", "h5@0=0", "h5@1000=0"]);
      expect(read(build([[h0(2, 0)], [h5(0, 0)], [h0(0, 0)]]))).toEqual(["h0@0=0", "h0@2000=0", "h5@0=0"]);
      expect(read(build([[h5(5, 0)], [h0(0, 0), h0(1, 0)]]))).toEqual(["h0@0=0", "h0@1000=0", "h5@5000=0"]);
      // Narrowed to h0 out of three series, read as the whole snapshot has h0.
      const seconds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
      const others = (from: number) => [h5, h1].flatMap((series) => seconds.map((t) => series(from + t, 7)));
      const mixed = build([...h0Chunks, others(0), others(20)]);
      const narrowed = narrowToSeries(mixed, { host: ["h0"] });
      expect(narrowed).toBeDefined();
      expect(read(narrowed)).toEqual(read(mixed).filter((r) => r.startsWith("h0@")));
    }
  });

  it("narrowToSeries keeps only the rows in the range, a chunk's run of a series' rows as views", () => {
    const h0 = (second: number, x: number): Row => [11n, "h0", "r0", second * 1000, x];
    const h5 = (second: number, x: number): Row => [2n ** 40n, "h5", "r1", second * 1000, x];
    const h1 = (second: number, x: number): Row => [2n ** 63n + 5n, "h1", "r0", second * 1000, x];
    const h2 = (second: number, x: number): Row => [7n, "h2", null, second * 1000, x];
    const set = new MemtableSet({ schema: SCHEMA });
    // Time-major, as writers send rows; the memtable groups each chunk's rows by series.
    const seconds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    set.append(batchOf(seconds.flatMap((t) => [h5(t, t), h0(t, t), h1(t, t), h2(t, t)])), 1);
    // Out of time order within the chunk: the rows in the range are not one run.
    set.append(batchOf([15, 11, 13, 12, 14, 10].flatMap((t) => [h0(t, t), h5(t, t), h1(t, t), h2(t, t)])), 2);
    const snapshot = set.snapshot();
    const read = (s: MemtableSnapshot | undefined, range: TimeRange) =>
      rowsOf(s?.sortedBatches({ projection: NAMES, timeRange: range }) ?? []).filter((r) => r[1] === "h0");
    for (const range of [
      { start: 3000, end: 7000 },
      { start: 6500, end: 12_500 },
      { start: 0, end: 100_000 },
    ]) {
      const narrowed = narrowToSeries(snapshot, { host: ["h0"] }, range);
      expect(narrowed, text(range)).toBeDefined();
      const inside = rowsOf(snapshot.sortedBatches({ projection: NAMES, timeRange: range })).filter(
        (r) => r[1] === "h0",
      );
      expect(narrowed?.numRows, text(range)).toBe(inside.length);
      expect(read(narrowed, range).map(text), text(range)).toEqual(read(snapshot, range).map(text));
    }
    // The first chunk's rows of h0 in [3000, 7000) are one run: its key columns are read in place.
    const narrowed = narrowToSeries(snapshot, { host: ["h0"] }, { start: 3000, end: 7000 });
    const tsid = (chunk: { batch: ColumnBatch } | undefined) =>
      chunk?.batch.columns[0]?.values as BigUint64Array;
    expect(tsid(narrowed?.chunks[0]).buffer).toBe(tsid(snapshot.chunks[0]).buffer);
    expect(rowsOf([narrowed?.chunks[0]?.batch as ColumnBatch]).map((r) => r[3])).toEqual([
      3000, 4000, 5000, 6000,
    ]);
  });

  it("leaves tables without a tsid, and filters matching most rows, to the whole snapshot", () => {
    const explicit = TableSchema.create({
      timestampColumn: "ts",
      primaryKey: ["host", "ts"],
      columns: [
        { name: "host", type: DataType.String, isTag: true },
        { name: "ts", type: DataType.Timestamp },
      ],
    });
    const set = new MemtableSet({ schema: explicit });
    set.append(
      {
        names: ["host", "ts"],
        columns: [
          { type: DataType.String, values: ["a", "b"], validity: null },
          { type: DataType.Timestamp, values: Float64Array.from([1, 2]), validity: null },
        ],
        numRows: 2,
      },
      1,
    );
    expect(narrowToSeries(set.snapshot(), { host: ["a"] })).toBeUndefined();
    expect(narrowToNewest(set.snapshot(), undefined)).toBeUndefined();
    const random = mulberry32(8);
    const snapshot = randomSnapshot(random, UpdateMode.Overwrite);
    expect(narrowToSeries(snapshot, { host: SERIES.map(([h]) => h) })).toBeUndefined();
  });
});
