import { describe, expect, it } from "vitest";
import { batchByteSize, type ColumnBatch } from "../../src/batch/column-batch.js";
import {
  CHUNK_OVERHEAD_BYTES,
  COLUMN_OVERHEAD_BYTES,
  IncompatibleSchemaError,
  InvalidBatchError,
  InvalidScanOptionsError,
  Memtable,
  MemtableFrozenError,
  UnknownColumnError,
  compareStrings,
} from "../../src/memtable/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { UpdateMode } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";
import { batchFromRows, rowsOf, seededRandom } from "./rows.js";

/** Default key (tsid, ts) with a tag and two nullable fields. */
const schema = TableSchema.create({
  timestampColumn: "ts",
  columns: [
    { name: "ts", type: DataType.Timestamp },
    { name: "host", type: DataType.String, isTag: true },
    { name: "cpu", type: DataType.Double },
    { name: "note", type: DataType.String },
  ],
});
const ALL = ["tsid", "ts", "host", "cpu", "note"];

function batch(rows: CellValue[][], names: readonly string[] = ALL): ColumnBatch {
  return batchFromRows(schema, names, rows);
}

function read(memtable: Memtable, options: Parameters<Memtable["sortedBatches"]>[0] = {}): CellValue[][] {
  return rowsOf(memtable.sortedBatches(options));
}

describe("Memtable append and statistics", () => {
  it("tracks rows, sequences, timestamps, bytes and creation time", () => {
    const memtable = new Memtable({ schema, table: "cpu", now: () => 1234 });
    expect(memtable.createdAt).toBe(1234);
    expect([
      memtable.minSequence,
      memtable.maxSequence,
      memtable.minTimestamp,
      memtable.maxTimestamp,
    ]).toEqual([undefined, undefined, undefined, undefined]);
    const first = batch([
      [1n, 500, "a", 1.5, null],
      [2n, 100, "b", 2.5, "x"],
    ]);
    const added = memtable.append(first, 7);
    const second = batch([[1n, 900, "a", 3.5, "y"]]);
    memtable.append(second, 3);
    expect(memtable.numRows).toBe(3);
    expect(memtable.chunkCount).toBe(2);
    expect([memtable.minSequence, memtable.maxSequence]).toEqual([3, 7]);
    expect([memtable.minTimestamp, memtable.maxTimestamp]).toEqual([100, 900]);
    const overhead = CHUNK_OVERHEAD_BYTES + COLUMN_OVERHEAD_BYTES * ALL.length;
    expect(added).toBe(batchByteSize(first) + overhead);
    expect(memtable.byteSize).toBe(batchByteSize(first) + batchByteSize(second) + 2 * overhead);
  });

  it("accepts an empty batch without changing anything", () => {
    const memtable = new Memtable({ schema });
    expect(memtable.append(batch([]), 1)).toBe(0);
    expect(memtable.isEmpty).toBe(true);
    expect(memtable.minSequence).toBeUndefined();
    expect([...memtable.sortedBatches()]).toEqual([]);
  });

  it("keeps the appended arrays instead of copying them", () => {
    const memtable = new Memtable({ schema });
    const b = batch([[1n, 1, "a", 1, "n"]]);
    memtable.append(b, 1);
    expect(memtable.snapshot().chunks[0]?.batch.columns[3]).toBe(b.columns[3]);
  });

  it("rejects batches that do not fit the schema, naming the column", () => {
    const memtable = new Memtable({ schema, table: "cpu" });
    const cases: Array<[ColumnBatch, string | undefined]> = [
      [batch([[1, "a"]], ["ts", "host"]), "tsid"],
      [batch([[1n, "a"]], ["tsid", "host"]), "ts"],
      [{ ...batch([[1n, 1]], ["tsid", "ts"]), names: ["tsid", "ts", "nope"] }, undefined],
      [
        {
          names: ["tsid", "ts", "cpu"],
          columns: [...batch([[1n, 1]], ["tsid", "ts"]).columns, batch([["s"]], ["note"]).columns[0]!],
          numRows: 1,
        },
        "cpu",
      ],
      [{ ...batch([[1n, 1]], ["tsid", "ts"]), numRows: 2 }, "tsid"],
      [batch([[1n, NaN]], ["tsid", "ts"]), "ts"],
      [batch([[1n, 2 ** 60]], ["tsid", "ts"]), "ts"],
      [batch([[null, 1]], ["tsid", "ts"]), "tsid"],
    ];
    for (const [b, column] of cases) {
      const error = captureError(() => memtable.append(b, 1));
      expect(error).toBeInstanceOf(InvalidBatchError);
      expect((error as InvalidBatchError).column).toBe(column);
      expect((error as InvalidBatchError).table).toBe("cpu");
    }
    const extra = {
      names: ["tsid", "ts", "extra"],
      columns: [...batch([[1n, 1, 2]], ["tsid", "ts", "cpu"]).columns],
      numRows: 1,
    };
    expect(() => memtable.append(extra, 1)).toThrow(/column "extra" is not in schema/);
    expect(() => memtable.append(batch([[1n, 1]], ["tsid", "ts"]), -1)).toThrow(InvalidBatchError);
    expect(() => memtable.append(batch([[1n, 1]], ["tsid", "ts"]), 1.5)).toThrow(InvalidBatchError);
    expect(memtable.isEmpty).toBe(true);
  });
});

describe("Memtable sorted reads", () => {
  it("with a predicate, tests its columns first and returns only the rows that pass", () => {
    const random = seededRandom(11);
    const memtable = new Memtable({ schema });
    for (let chunk = 0; chunk < 6; chunk++) {
      const rows: CellValue[][] = [];
      for (let i = 0; i < 50; i++) {
        const id = BigInt(1 + Math.floor(random() * 4));
        // Timestamps repeat across chunks: later rows overwrite earlier ones.
        rows.push([id, Math.floor(random() * 100), `h${id}`, random() < 0.2 ? null : random() * 100, null]);
      }
      memtable.append(batch(rows), chunk + 1);
    }
    const seen: string[][] = [];
    const above = (threshold: number) => ({
      columns: ["cpu"],
      select(b: ColumnBatch): Uint32Array {
        seen.push([...b.names]);
        const cpu = b.columns[0]!;
        const rows: number[] = [];
        for (let r = 0; r < b.numRows; r++) {
          if (cpu.validity?.[r] !== 0 && (cpu.values as Float64Array)[r]! > threshold) rows.push(r);
        }
        return Uint32Array.from(rows);
      },
    });
    for (const threshold of [-1, 50, 99, 200]) {
      for (const timeRange of [undefined, { start: 20, end: 70 }]) {
        const options = { projection: ALL, batchSize: 7, ...(timeRange === undefined ? {} : { timeRange }) };
        const expected = read(memtable, options).filter((r) => r[3] !== null && (r[3] as number) > threshold);
        expect(read(memtable, { ...options, predicate: above(threshold) })).toEqual(expected);
      }
    }
    // The predicate was handed its own column alone: the others are read after it.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((names) => names.length === 1 && names[0] === "cpu")).toBe(true);
    expect(() => memtable.sortedBatches({ projection: ["ts", "host"], predicate: above(1) })).toThrow(
      InvalidScanOptionsError,
    );
  });

  it("sorts by (tsid, timestamp) with tsid unsigned", () => {
    const memtable = new Memtable({ schema });
    const big = 2n ** 63n + 5n;
    memtable.append(
      batch([
        [big, 10, "z", 1, null],
        [3n, 20, "c", 2, null],
        [3n, 10, "c", 3, null],
        [2n ** 32n, 5, "d", 4, null],
      ]),
      1,
    );
    expect(read(memtable, { projection: ["tsid", "ts"] })).toEqual([
      [3n, 10],
      [3n, 20],
      [2n ** 32n, 5],
      [big, 10],
    ]);
  });

  it("OVERWRITE keeps the row with the highest sequence, whatever the append order", () => {
    const memtable = new Memtable({ schema, updateMode: UpdateMode.Overwrite });
    memtable.append(batch([[1n, 10, "a", 1, "seq 9"]]), 9);
    memtable.append(batch([[1n, 10, "a", 2, "seq 4, appended later"]]), 4);
    expect(read(memtable, { projection: ["cpu", "note"] })).toEqual([[1, "seq 9"]]);
  });

  it("OVERWRITE keeps the later row within one batch and the later append on equal sequences", () => {
    const memtable = new Memtable({ schema });
    memtable.append(
      batch([
        [1n, 10, "a", 1, "first"],
        [1n, 10, "a", 2, "second"],
      ]),
      5,
    );
    expect(read(memtable, { projection: ["note"] })).toEqual([["second"]]);
    memtable.append(batch([[1n, 10, "a", 3, "same sequence, later append"]]), 5);
    expect(read(memtable, { projection: ["note"] })).toEqual([["same sequence, later append"]]);
  });

  it("APPEND keeps every row, equal keys in sequence order", () => {
    const memtable = new Memtable({ schema, updateMode: UpdateMode.Append });
    memtable.append(batch([[1n, 10, "a", 1, "seq 8"]]), 8);
    memtable.append(
      batch([
        [1n, 10, "a", 2, "seq 2 first"],
        [1n, 10, "a", 3, "seq 2 second"],
      ]),
      2,
    );
    memtable.append(batch([[1n, 5, "a", 4, "earlier ts"]]), 9);
    expect(read(memtable, { projection: ["note"] })).toEqual([
      ["earlier ts"],
      ["seq 2 first"],
      ["seq 2 second"],
      ["seq 8"],
    ]);
  });

  it("preserves nulls and fills columns a batch left out with nulls", () => {
    const memtable = new Memtable({ schema });
    memtable.append(batch([[1n, 1, "a", null, "n"]]), 1);
    memtable.append(batch([[1n, 2, "a"]], ["tsid", "ts", "host"]), 2);
    expect(read(memtable)).toEqual([
      [1n, 1, "a", null, "n"],
      [1n, 2, "a", null, null],
    ]);
  });

  it("projects columns in the requested order and rejects unknown ones", () => {
    const memtable = new Memtable({ schema, table: "cpu" });
    memtable.append(batch([[1n, 1, "a", 0.5, "n"]]), 1);
    expect(read(memtable, { projection: ["note", "ts"] })).toEqual([["n", 1]]);
    const error = captureError(() => memtable.sortedBatches({ projection: ["ts", "missing"] }));
    expect(error).toBeInstanceOf(UnknownColumnError);
    expect((error as UnknownColumnError).column).toBe("missing");
  });

  it("filters to [start, end)", () => {
    const memtable = new Memtable({ schema });
    memtable.append(batch([10, 20, 30, 40].map((ts) => [1n, ts, "a", ts, null])), 1);
    expect(read(memtable, { projection: ["ts"], timeRange: { start: 20, end: 40 } })).toEqual([[20], [30]]);
    expect(read(memtable, { projection: ["ts"], timeRange: { start: 41, end: 100 } })).toEqual([]);
    expect(read(memtable, { projection: ["ts"], timeRange: { start: 0, end: 10 } })).toEqual([]);
    expect(read(memtable, { projection: ["ts"], timeRange: { start: 10, end: 41 } })).toHaveLength(4);
  });

  it("cuts output into batches of the requested size", () => {
    const memtable = new Memtable({ schema });
    memtable.append(batch(Array.from({ length: 10 }, (_, i) => [1n, i, "a", i, null])), 1);
    expect([...memtable.sortedBatches({ batchSize: 4 })].map((b) => b.numRows)).toEqual([4, 4, 2]);
    expect([...memtable.sortedBatches({ batchSize: 5 })].map((b) => b.numRows)).toEqual([5, 5]);
    expect(
      [...memtable.sortedBatches({ batchSize: 4, timeRange: { start: 1, end: 10 } })].map((b) => b.numRows),
    ).toEqual([4, 4, 1]);
    for (const bad of [0, -1, 1.5, NaN]) {
      expect(() => memtable.sortedBatches({ batchSize: bad })).toThrow(InvalidScanOptionsError);
    }
    expect(() => memtable.sortedBatches({ timeRange: { start: 5, end: 4 } })).toThrow(
      InvalidScanOptionsError,
    );
  });

  it("reads more rows than one gather window, with and without a time filter", () => {
    const rnd = seededRandom(5);
    const memtable = new Memtable({ schema });
    const latest = new Map<string, CellValue[]>();
    for (let a = 0; a < 3; a++) {
      const rows = Array.from({ length: 60_000 }, (_, i): CellValue[] => [
        BigInt(Math.floor(rnd() * 100)),
        Math.floor(rnd() * 2000),
        "h",
        a * 100_000 + i,
        null,
      ]);
      memtable.append(batch(rows), a + 1);
      for (const row of rows) latest.set(`${String(row[0])}/${String(row[1])}`, row);
    }
    const expected = [...latest.values()].sort(
      (x, y) => Number((x[0] as bigint) - (y[0] as bigint)) || (x[1] as number) - (y[1] as number),
    );
    const batches = [...memtable.sortedBatches({ batchSize: 8192 })];
    expect(batches.slice(0, -1).every((b) => b.numRows === 8192)).toBe(true);
    expect(rowsOf(batches)).toEqual(expected);
    const inRange = expected.filter((r) => (r[1] as number) >= 500 && (r[1] as number) < 1500);
    const filtered = [...memtable.sortedBatches({ batchSize: 1000, timeRange: { start: 500, end: 1500 } })];
    expect(filtered.slice(0, -1).every((b) => b.numRows === 1000)).toBe(true);
    expect(rowsOf(filtered)).toEqual(inRange);
  });

  it("serves a snapshot without later appends, and re-sorts after an append", () => {
    const memtable = new Memtable({ schema });
    memtable.append(batch([[1n, 2, "a", 1, null]]), 1);
    const before = memtable.snapshot();
    expect(read(memtable, { projection: ["ts"] })).toEqual([[2]]);
    memtable.append(batch([[1n, 1, "a", 1, null]]), 2);
    expect(rowsOf(before.sortedBatches({ projection: ["ts"] }))).toEqual([[2]]);
    expect(read(memtable, { projection: ["ts"] })).toEqual([[1], [2]]);
  });

  it("sorts once and reuses the order until the next append", () => {
    const memtable = new Memtable({ schema });
    memtable.append(batch([[1n, 2, "a", 1, null]]), 1);
    const stale = memtable.snapshot();
    read(memtable);
    read(memtable, { projection: ["ts"], timeRange: { start: 0, end: 5 }, batchSize: 1 });
    expect(memtable.sortCount).toBe(1);
    memtable.append(batch([[1n, 1, "a", 1, null]]), 2);
    read(memtable);
    read(memtable);
    expect(memtable.sortCount).toBe(2);
    // An older snapshot sorts its own rows without evicting the current order.
    expect(rowsOf(stale.sortedBatches({ projection: ["ts"] }))).toEqual([[2]]);
    read(memtable);
    expect(memtable.sortCount).toBe(3);
  });

  it("reads rows written under an older schema as null in added columns", () => {
    const memtable = new Memtable({ schema });
    memtable.append(batch([[1n, 1, "a", 1, null]]), 1);
    const wider = schema.withAddedColumns([{ name: "mem", type: DataType.Int64 }]);
    memtable.updateSchema(wider);
    memtable.append(batchFromRows(wider, ["tsid", "ts", "mem"], [[1n, 2, -5n]]), 2);
    expect(read(memtable, { projection: ["ts", "mem", "host"] })).toEqual([
      [1, null, "a"],
      [2, -5n, null],
    ]);
    expect(() => memtable.append(batch([[1n, 3, "a", 1, null]]), 3)).not.toThrow();
  });

  it("refuses a schema that changes the key, drops or retypes a column, or is older", () => {
    const memtable = new Memtable({ schema, table: "cpu" });
    const newer = schema.withAddedColumns([{ name: "x", type: DataType.Double }]);
    memtable.updateSchema(newer);
    const explicitKey = TableSchema.create({
      timestampColumn: "ts",
      primaryKey: ["host", "ts"],
      columns: [
        { name: "ts", type: DataType.Timestamp },
        { name: "host", type: DataType.String },
      ],
      version: 9,
    });
    const retyped = TableSchema.fromJSON({
      ...newer.toJSON(),
      version: 10,
      columns: newer.toJSON().columns.map((c) => (c.name === "cpu" ? { ...c, type: DataType.Float } : c)),
    });
    for (const bad of [schema, explicitKey, retyped]) {
      expect(() => memtable.updateSchema(bad)).toThrow(IncompatibleSchemaError);
    }
    expect(memtable.schema).toBe(newer);
  });
});

describe("Memtable explicit key orders", () => {
  it("orders strings by code point, int64 signed, booleans false first, and doubles with NaN last", () => {
    const keyed = TableSchema.create({
      timestampColumn: "ts",
      primaryKey: ["s", "i", "b", "d", "ts"],
      columns: [
        { name: "ts", type: DataType.Timestamp },
        { name: "s", type: DataType.String },
        { name: "i", type: DataType.Int64 },
        { name: "b", type: DataType.Boolean },
        { name: "d", type: DataType.Double },
      ],
    });
    const memtable = new Memtable({ schema: keyed });
    const names = ["s", "i", "b", "d", "ts"];
    const rows: CellValue[][] = [
      ["\u{1f600}", 0n, false, 0, 1],
      ["\uffff", 0n, false, 0, 1],
      ["a", 5n, false, 0, 1],
      ["a", -(2n ** 63n), false, 0, 1],
      ["a", -1n, true, 0, 1],
      ["a", -1n, false, NaN, 1],
      ["a", -1n, false, Infinity, 1],
      ["a", -1n, false, -2, 1],
      ["", 0n, false, 0, 1],
    ];
    memtable.append(batchFromRows(keyed, names, rows), 1);
    expect(rowsOf(memtable.sortedBatches({ projection: names }))).toEqual([
      ["", 0n, false, 0, 1],
      ["a", -(2n ** 63n), false, 0, 1],
      ["a", -1n, false, -2, 1],
      ["a", -1n, false, Infinity, 1],
      ["a", -1n, false, NaN, 1],
      ["a", -1n, true, 0, 1],
      ["a", 5n, false, 0, 1],
      ["\uffff", 0n, false, 0, 1],
      ["\u{1f600}", 0n, false, 0, 1],
    ]);
  });

  it("compareStrings agrees with the byte order of UTF-8", () => {
    const samples = [
      "",
      "a",
      "ab",
      "\u00e9",
      "\u0800",
      "\ud7ff",
      "\ue000",
      "\uffff",
      "\u{10000}",
      "\u{1f600}",
      "a\u{1f600}",
    ];
    for (const a of samples) {
      for (const b of samples) {
        expect(Math.sign(compareStrings(a, b)), `${a} vs ${b}`).toBe(
          Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))),
        );
      }
    }
  });

  it("deduplicates int32 and uint64 keys by value", () => {
    const keyed = TableSchema.create({
      timestampColumn: "ts",
      primaryKey: ["n", "u", "ts"],
      columns: [
        { name: "ts", type: DataType.Timestamp },
        { name: "n", type: DataType.Int32 },
        { name: "u", type: DataType.UInt64 },
        { name: "v", type: DataType.Double },
      ],
    });
    const memtable = new Memtable({ schema: keyed });
    const names = ["n", "u", "ts", "v"];
    memtable.append(
      batchFromRows(keyed, names, [
        [-3, 2n ** 64n - 1n, 7, 1],
        [-3, 0n, 7, 2],
        [4, 0n, 7, 3],
      ]),
      1,
    );
    memtable.append(batchFromRows(keyed, names, [[-3, 2n ** 64n - 1n, 7, 4]]), 2);
    expect(rowsOf(memtable.sortedBatches({ projection: names }))).toEqual([
      [-3, 0n, 7, 2],
      [-3, 2n ** 64n - 1n, 7, 4],
      [4, 0n, 7, 3],
    ]);
  });
});

describe("Memtable freeze", () => {
  it("refuses appends and schema changes once frozen, and stays readable", () => {
    const memtable = new Memtable({ schema, table: "cpu" });
    memtable.append(batch([[1n, 1, "a", 1, null]]), 1);
    memtable.freeze();
    memtable.freeze();
    expect(memtable.isFrozen).toBe(true);
    const error = captureError(() => memtable.append(batch([[1n, 2, "a", 1, null]]), 2));
    expect(error).toBeInstanceOf(MemtableFrozenError);
    expect((error as MemtableFrozenError).table).toBe("cpu");
    expect((error as MemtableFrozenError).memtableId).toBe(memtable.id);
    expect(() =>
      memtable.updateSchema(schema.withAddedColumns([{ name: "x", type: DataType.Double }])),
    ).toThrow(MemtableFrozenError);
    expect(memtable.numRows).toBe(1);
    expect(read(memtable, { projection: ["ts"] })).toEqual([[1]]);
  });
});

function captureError(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}
