import { describe, expect, it } from "vitest";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { InvalidScanOptionsError, Memtable, type MemtableSnapshot } from "../../src/memtable/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { UpdateMode } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";
import { batchFromRows, rowsOf, seededRandom } from "./rows.js";

const schema = TableSchema.create({
  timestampColumn: "ts",
  columns: [
    { name: "ts", type: DataType.Timestamp },
    { name: "host", type: DataType.String, isTag: true },
    { name: "cpu", type: DataType.Double },
    { name: "count", type: DataType.Int64 },
    { name: "note", type: DataType.String },
  ],
});
const ALL = ["tsid", "ts", "host", "cpu", "count", "note"];

/** The rows of each segment read through `segments` and `columnReaders`. */
function readSegments(
  snapshot: MemtableSnapshot,
  segmentMs: number,
  dropBefore?: number,
): Array<{ start: number; rows: CellValue[][] }> {
  const readers = snapshot.columnReaders(ALL);
  return snapshot.segments(segmentMs, dropBefore).map((segment) => {
    const batch: ColumnBatch = {
      names: ALL,
      columns: readers.map((r) => r.gather(segment.rows)),
      numRows: segment.rows.count,
    };
    for (const column of batch.columns) expect(column.values.length).toBe(segment.rows.count);
    return { start: segment.start, rows: rowsOf([batch]) };
  });
}

/** The same, through a sorted scan per segment's time range. */
function scanSegments(
  snapshot: MemtableSnapshot,
  segmentMs: number,
  dropBefore = -Infinity,
): Array<{ start: number; rows: CellValue[][] }> {
  const all = rowsOf(snapshot.sortedBatches({ projection: ALL }));
  const starts = [
    ...new Set(
      all
        .map((r) => r[1] as number)
        .filter((ts) => ts >= dropBefore)
        .map((ts) => Math.floor(ts / segmentMs) * segmentMs),
    ),
  ].sort((a, b) => a - b);
  return starts.map((start) => ({
    start,
    rows: rowsOf(
      snapshot.sortedBatches({
        projection: ALL,
        timeRange: { start: Math.max(start, dropBefore), end: start + segmentMs },
      }),
    ),
  }));
}

describe("MemtableSnapshot.segments", () => {
  it("splits the sorted rows by segment in one pass, as scans of each segment's range would", () => {
    for (const seed of [1, 2, 3, 4]) {
      const random = seededRandom(seed);
      const mode = seed % 2 === 0 ? UpdateMode.Append : UpdateMode.Overwrite;
      const memtable = new Memtable({ schema, updateMode: mode });
      for (let write = 0; write < 40; write++) {
        const rows: CellValue[][] = [];
        for (let r = 0; r < 1 + Math.floor(random() * 30); r++) {
          const host = Math.floor(random() * 5);
          rows.push([
            BigInt(host),
            Math.floor(random() * 10_000) - 2_000,
            `h${host}`,
            random() < 0.1 ? null : random(),
            BigInt(Math.floor(random() * 1000)),
            random() < 0.5 ? null : `n${write}`,
          ]);
        }
        // Sequences out of append order, as concurrent writes may deliver them.
        memtable.append(batchFromRows(schema, ALL, rows), 1000 - write * (write % 3 === 0 ? 7 : 1));
      }
      const snapshot = memtable.snapshot();
      for (const segmentMs of [1, 700, 2_500, 100_000]) {
        expect(readSegments(snapshot, segmentMs)).toEqual(scanSegments(snapshot, segmentMs));
        expect(readSegments(snapshot, segmentMs, 3_333)).toEqual(scanSegments(snapshot, segmentMs, 3_333));
      }
    }
  });

  it("leaves out rows below dropBefore, and every segment once nothing is left", () => {
    const memtable = new Memtable({ schema });
    memtable.append(
      batchFromRows(schema, ALL, [
        [1n, 100, "a", 1, 1n, null],
        [1n, 1_100, "a", 2, 2n, null],
        [2n, 1_500, "b", 3, 3n, null],
        [2n, 2_100, "b", 4, 4n, null],
      ]),
      1,
    );
    const snapshot = memtable.snapshot();
    const starts = (dropBefore?: number) =>
      snapshot.segments(1_000, dropBefore).map((s) => [s.start, s.rows.count]);
    expect(starts()).toEqual([
      [0, 1],
      [1_000, 2],
      [2_000, 1],
    ]);
    expect(starts(1_200)).toEqual([
      [1_000, 1],
      [2_000, 1],
    ]);
    expect(starts(2_101)).toEqual([]);
    expect(new Memtable({ schema }).snapshot().segments(1_000)).toEqual([]);
  });

  it("reads columns a chunk was written without as nulls", () => {
    const memtable = new Memtable({
      schema: TableSchema.create({
        timestampColumn: "ts",
        columns: [
          { name: "ts", type: DataType.Timestamp },
          { name: "host", type: DataType.String, isTag: true },
        ],
      }),
    });
    const older = memtable.schema;
    memtable.append(batchFromRows(older, ["tsid", "ts", "host"], [[1n, 5, "a"]]), 1);
    memtable.updateSchema(older.withAddedColumns([{ name: "cpu", type: DataType.Double }], "t"));
    memtable.append(batchFromRows(memtable.schema, ["tsid", "ts", "host", "cpu"], [[1n, 6, "a", 0.5]]), 2);
    const snapshot = memtable.snapshot();
    const [segment] = snapshot.segments(1_000);
    const [cpu] = snapshot.columnReaders(["cpu"]);
    const column = cpu?.gather(
      segment?.rows ?? { chunk: new Uint32Array(0), row: new Uint32Array(0), count: 0 },
    );
    expect(rowsOf([{ names: ["cpu"], columns: column === undefined ? [] : [column], numRows: 2 }])).toEqual([
      [null],
      [0.5],
    ]);
  });

  it("sorts in steps with a pause between them, to the same order, cached for later reads", async () => {
    const random = seededRandom(7);
    const stepwise = new Memtable({ schema });
    const inOneGo = new Memtable({ schema });
    for (let write = 0; write < 20; write++) {
      const rows: CellValue[][] = Array.from({ length: 500 }, (_, r) => [
        BigInt(Math.floor(random() * 50)),
        Math.floor(random() * 100_000),
        "h",
        r,
        1n,
        null,
      ]);
      stepwise.append(batchFromRows(schema, ALL, rows), write + 1);
      inOneGo.append(batchFromRows(schema, ALL, rows), write + 1);
    }
    const snapshot = stepwise.snapshot();
    let pauses = 0;
    await snapshot.sort(() => {
      pauses++;
      return Promise.resolve();
    });
    // Key lanes, radix passes and the laying out of the order are separate steps.
    expect(pauses).toBeGreaterThanOrEqual(4);
    expect(stepwise.sortCount).toBe(1);
    expect(readSegments(snapshot, 10_000)).toEqual(readSegments(inOneGo.snapshot(), 10_000));
    // The memtable keeps the order: later reads do not sort again.
    expect(rowsOf(stepwise.sortedBatches())).toEqual(rowsOf(inOneGo.sortedBatches()));
    expect(stepwise.sortCount).toBe(1);
  });

  it("refuses a segment duration that is not positive", () => {
    const snapshot = new Memtable({ schema }).snapshot();
    expect(() => snapshot.segments(0)).toThrow(InvalidScanOptionsError);
    expect(() => snapshot.segments(Number.NaN)).toThrow(InvalidScanOptionsError);
  });
});
