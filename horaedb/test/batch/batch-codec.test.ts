import { describe, expect, it } from "vitest";
import { BatchDecodeError, decodeBatch, encodeBatch } from "../../src/batch/batch-codec.js";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { ALL_DATA_TYPES, DataType, type CellValue } from "../../src/table/data-type.js";
import { buildColumn, randomCell, seeded } from "./random-columns.js";

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
