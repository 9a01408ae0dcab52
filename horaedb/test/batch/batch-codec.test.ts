import { describe, expect, it } from "vitest";
import { BatchDecodeError, decodeBatch, encodeBatch } from "../../src/batch/batch-codec.js";
import { allocateValues, cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { ALL_DATA_TYPES, DataType, type CellValue } from "../../src/table/data-type.js";

function randomCell(type: DataType, rnd: () => number): CellValue {
  switch (type) {
    case DataType.Timestamp:
      return Math.floor(rnd() * 2 ** 45);
    case DataType.Double:
      return (rnd() - 0.5) * 1e9;
    case DataType.Float:
      return Math.fround(rnd());
    case DataType.Int64:
      return BigInt(Math.floor((rnd() - 0.5) * 2 ** 52)) * 1000n;
    case DataType.Int32:
      return Math.floor((rnd() - 0.5) * 2 ** 31);
    case DataType.UInt64:
      return 2n ** 64n - 1n - BigInt(Math.floor(rnd() * 1e9));
    case DataType.Boolean:
      return rnd() < 0.5;
    case DataType.String:
      return ["host_1", "héllo", "", "日本", `s${Math.floor(rnd() * 5)}`][Math.floor(rnd() * 5)] as string;
    case DataType.Varbinary:
      return Uint8Array.from({ length: Math.floor(rnd() * 6) }, () => Math.floor(rnd() * 256));
  }
}

function buildColumn(type: DataType, cells: CellValue[]): Column {
  const values = allocateValues(type, cells.length) as unknown as unknown[];
  const validity = cells.some((c) => c === null) ? new Uint8Array(cells.length) : null;
  cells.forEach((cell, i) => {
    if (cell === null) return;
    if (validity !== null) validity[i] = 1;
    values[i] = type === DataType.Boolean ? (cell ? 1 : 0) : cell;
  });
  return { type, values: values as unknown as Column["values"], validity };
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe("batch codec", () => {
  it("round-trips every data type, with and without nulls", () => {
    const rnd = seeded(7);
    const numRows = 257;
    const names: string[] = [];
    const columns: Column[] = [];
    const expected: CellValue[][] = [];
    for (const type of ALL_DATA_TYPES) {
      for (const withNulls of [false, true]) {
        const cells = Array.from({ length: numRows }, () =>
          withNulls && rnd() < 0.3 ? null : randomCell(type, rnd),
        );
        names.push(`${type}_${withNulls ? "nullable" : "dense"}`);
        columns.push(buildColumn(type, cells));
        expected.push(cells);
      }
    }
    const batch: ColumnBatch = { names, columns, numRows };
    const { batch: decoded, schemaVersion } = decodeBatch(encodeBatch(batch, 42));
    expect(schemaVersion).toBe(42);
    expect(decoded.names).toEqual(names);
    expect(decoded.numRows).toBe(numRows);
    decoded.columns.forEach((column, c) => {
      expect(column.type).toBe(columns[c]?.type);
      const cells = Array.from({ length: numRows }, (_, i) => cellAt(column, i));
      expect(cells).toEqual(expected[c]);
    });
  });

  it("decodes from a payload that sits at an unaligned offset of a larger buffer", () => {
    const batch: ColumnBatch = {
      names: ["v"],
      columns: [buildColumn(DataType.Double, [1.5, 2.5, 3.5])],
      numRows: 3,
    };
    const encoded = encodeBatch(batch, 1);
    const big = new Uint8Array(encoded.byteLength + 3);
    big.set(encoded, 3);
    const { batch: decoded } = decodeBatch(big.subarray(3));
    expect(Array.from(decoded.columns[0]?.values as Float64Array)).toEqual([1.5, 2.5, 3.5]);
  });

  it("keeps repeated strings small through the dictionary", () => {
    const numRows = 5000;
    const cells = Array.from({ length: numRows }, (_, i) => `host_${i % 100}_with_a_long_name`);
    const encoded = encodeBatch(
      { names: ["host"], columns: [buildColumn(DataType.String, cells)], numRows },
      1,
    );
    // 100 distinct strings of ~27 bytes plus a 2-byte index per row.
    expect(encoded.byteLength).toBeLessThan(100 * 32 + numRows * 2 + 64);
  });

  it("rejects truncated payloads and unknown versions with the failing offset", () => {
    const encoded = encodeBatch(
      { names: ["v"], columns: [buildColumn(DataType.Int32, [1, 2, 3])], numRows: 3 },
      1,
    );
    expect(() => decodeBatch(encoded.subarray(0, encoded.byteLength - 1))).toThrow(BatchDecodeError);
    const wrongVersion = encoded.slice();
    wrongVersion[0] = 99;
    expect(() => decodeBatch(wrongVersion)).toThrow(/unknown codec version 99/);
    const trailing = new Uint8Array(encoded.byteLength + 2);
    trailing.set(encoded);
    expect(() => decodeBatch(trailing)).toThrow(/2 trailing bytes/);
  });
});
