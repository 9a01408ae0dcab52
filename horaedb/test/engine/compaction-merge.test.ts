import { describe, expect, it } from "vitest";
import { cellAt } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { splitByTime } from "../../src/engine/compaction/index.js";
import { mergeSortedInputs, type MergeInput } from "../../src/engine/compaction/merge.js";
import { MemtableSet } from "../../src/memtable/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { UpdateMode } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";

/** Every key type the engine orders: strings, uint64 (high bit set), signed int64, doubles, booleans. */
const schema = TableSchema.create({
  timestampColumn: "ts",
  primaryKey: ["k", "u", "n", "d", "b", "ts"],
  columns: [
    { name: "k", type: DataType.String, isTag: true },
    { name: "u", type: DataType.UInt64 },
    { name: "n", type: DataType.Int64 },
    { name: "d", type: DataType.Double },
    { name: "b", type: DataType.Boolean },
    { name: "ts", type: DataType.Timestamp },
    { name: "v", type: DataType.Double },
  ],
});

function randomBatch(rows: number, random: () => number, tag: number): ColumnBatch {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const strings = ["", "a", "b", "\u00e9", "\uffff", "\u{1f600}"];
  const u64 = [0n, 1n, 2n ** 63n, 2n ** 64n - 1n];
  const i64 = [-(2n ** 63n), -1n, 0n, 5n];
  const doubles = [Number.NaN, -0, 0, -1.5, 2.25];
  return {
    names: schema.columns.map((c) => c.name),
    columns: [
      { type: DataType.String, values: Array.from({ length: rows }, () => pick(strings)), validity: null },
      {
        type: DataType.UInt64,
        values: BigUint64Array.from({ length: rows }, () => pick(u64)),
        validity: null,
      },
      { type: DataType.Int64, values: BigInt64Array.from({ length: rows }, () => pick(i64)), validity: null },
      {
        type: DataType.Double,
        values: Float64Array.from({ length: rows }, () => pick(doubles)),
        validity: null,
      },
      {
        type: DataType.Boolean,
        values: Uint8Array.from({ length: rows }, () => (random() < 0.5 ? 0 : 1)),
        validity: null,
      },
      {
        type: DataType.Timestamp,
        values: Float64Array.from({ length: rows }, () => pick([0, 1, 2])),
        validity: null,
      },
      {
        type: DataType.Double,
        values: Float64Array.from({ length: rows }, (_, r) => tag * 1000 + r),
        validity: null,
      },
    ],
    numRows: rows,
  };
}

/** Rows of batches as arrays of cells, in order; NaN and -0 spelled out so equality is exact. */
function cells(batches: readonly ColumnBatch[]): string[] {
  const out: string[] = [];
  for (const batch of batches) {
    for (let r = 0; r < batch.numRows; r++) {
      const row = batch.columns.map((c) => cellAt(c, r));
      out.push(
        JSON.stringify(row, (_k, v: CellValue) =>
          typeof v === "bigint" ? `${v}n` : Object.is(v, -0) ? "-0" : Number.isNaN(v) ? "NaN" : v,
        ),
      );
    }
  }
  return out;
}

async function* batchesOf(rows: ColumnBatch[], random: () => number): AsyncIterable<ColumnBatch> {
  // Cut into batches of random sizes, empty ones included, to cross batch boundaries everywhere.
  for (const batch of rows) {
    let at = 0;
    while (at < batch.numRows) {
      const n = Math.min(batch.numRows - at, Math.floor(random() * 7));
      // Like an SST read, each batch arrives after an await.
      await Promise.resolve();
      yield slice(batch, at, at + n);
      at += n;
    }
  }
}

function slice(batch: ColumnBatch, from: number, to: number): ColumnBatch {
  return {
    names: batch.names,
    columns: batch.columns.map((c) => ({
      type: c.type,
      values: (c.values as Float64Array).slice(from, to),
      validity: c.validity?.slice(from, to) ?? null,
    })),
    numRows: to - from,
  };
}

describe("k-way merge of sorted inputs", () => {
  for (const mode of [UpdateMode.Overwrite, UpdateMode.Append]) {
    it(`matches a memtable sort of all inputs row for row (${mode})`, async () => {
      let seed = 7;
      const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
      for (let trial = 0; trial < 40; trial++) {
        const inputCount = 1 + Math.floor(random() * 5);
        // Each input is what an SST holds: the sorted (and, for OVERWRITE, deduplicated) rows of a flush.
        const inputs: { sorted: ColumnBatch[]; priority: number }[] = [];
        const all = new MemtableSet({ schema, updateMode: mode });
        for (let i = 0; i < inputCount; i++) {
          const priority = (i + 1) * 10;
          const own = new MemtableSet({ schema, updateMode: mode });
          for (let a = 0; a < 1 + Math.floor(random() * 3); a++) {
            const batch = randomBatch(Math.floor(random() * 40), random, i * 10 + a);
            own.append(batch, priority);
            all.append(batch, priority);
          }
          inputs.push({ sorted: [...own.sortedBatches({ batchSize: 1000 })], priority });
        }
        const expected = cells([...all.sortedBatches({ batchSize: 1000 })]);
        const merge: MergeInput[] = inputs.map((input) => ({
          batches: batchesOf(input.sorted, random),
          priority: input.priority,
        }));
        const merged: ColumnBatch[] = [];
        for await (const batch of mergeSortedInputs(schema, mode, merge, 1 + Math.floor(random() * 20))) {
          merged.push(batch);
        }
        expect(cells(merged), `trial ${trial}`).toEqual(expected);
      }
    });
  }

  it("yields batches of the requested size, and nothing for no rows", async () => {
    const sorted = [...new MemtableSet({ schema }).sortedBatches()];
    const none: ColumnBatch[] = [];
    for await (const b of mergeSortedInputs(
      schema,
      UpdateMode.Append,
      [{ batches: batchesOf(sorted, Math.random), priority: 1 }],
      4,
    ))
      none.push(b);
    expect(none).toEqual([]);
    const set = new MemtableSet({ schema, updateMode: UpdateMode.Append });
    set.append(
      randomBatch(10, () => 0.3, 1),
      1,
    );
    const sizes: number[] = [];
    const input = { batches: batchesOf([...set.sortedBatches()], () => 0.9), priority: 1 };
    for await (const b of mergeSortedInputs(schema, UpdateMode.Append, [input], 4)) sizes.push(b.numRows);
    expect(sizes).toEqual([4, 4, 2]);
  });
});

describe("splitting an output by time", () => {
  const batchAt = (timestamps: number[]): ColumnBatch => ({
    names: ["ts"],
    columns: [{ type: DataType.Timestamp, values: Float64Array.from(timestamps), validity: null }],
    numRows: timestamps.length,
  });
  const times = (parts: ColumnBatch[][]) =>
    parts.map((part) => part.flatMap((b) => [...(b.columns[0]?.values as Float64Array)]));

  it("cuts at timestamps so that parts hold about maxRows rows and never share a timestamp", () => {
    const batches = [batchAt([5, 1, 9, 3]), batchAt([2, 8, 4, 7, 6, 0])];
    expect(splitByTime(batches, "ts", 10, 10)).toEqual([batches]);
    const parts = splitByTime(batches, "ts", 10, 4);
    // Rows keep their order within each part; the parts are [0,4), [4,8), [8, inf).
    expect(times(parts)).toEqual([
      [1, 3, 2, 0],
      [5, 4, 7, 6],
      [9, 8],
    ]);
    expect(splitByTime(batches, "ts", 10, 1).length).toBe(10);
    expect(splitByTime([], "ts", 0, 4)).toEqual([]);
  });

  it("keeps rows of one timestamp together even past maxRows", () => {
    const parts = splitByTime([batchAt([1, 1, 1, 1, 1, 2])], "ts", 6, 2);
    expect(times(parts)).toEqual([[1, 1, 1, 1, 1], [2]]);
  });
});
