import {
  DateDay,
  Field,
  Int16,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
  TimestampSecond,
  Uint32,
} from "apache-arrow";
import { describe, expect, it } from "vitest";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { DataType } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";
import { ArrowConversionError, arrowToColumnBatch, columnBatchToArrow } from "../../src/sst/index.js";
import { allTypesBatch, allTypesSchema, rowsOf } from "./fixtures.js";

describe("columnBatchToArrow / arrowToColumnBatch", () => {
  it("round-trips every data type with nulls, in memory and through Arrow IPC", () => {
    const batch = allTypesBatch(500, 4);
    const arrow = columnBatchToArrow(batch, allTypesSchema());
    expect(arrow.numRows).toBe(500);
    expect(rowsOf(arrowToColumnBatch(arrow))).toEqual(rowsOf(batch));

    const viaIpc = tableFromIPC(tableToIPC(new Table([arrow]), "stream"));
    const back = arrowToColumnBatch(viaIpc);
    expect(back.names).toEqual(batch.names);
    expect(back.columns.map((c) => c.type)).toEqual(batch.columns.map((c) => c.type));
    expect(rowsOf(back)).toEqual(rowsOf(batch));
  });

  it("maps our types to the agreed Arrow types, dictionary-encoding TAG columns only", () => {
    const arrow = columnBatchToArrow(allTypesBatch(10, 2), allTypesSchema());
    const types = Object.fromEntries(arrow.schema.fields.map((f) => [f.name, String(f.type)]));
    expect(types).toEqual({
      host: "Dictionary<Int32, Utf8>",
      dc: "Dictionary<Int32, Utf8>",
      ts: "Timestamp<MILLISECOND>",
      f64: "Float64",
      f32: "Float32",
      i64: "Int64",
      i32: "Int32",
      u64: "Uint64",
      flag: "Bool",
      note: "Utf8",
      blob: "Binary",
    });
    const nullable = Object.fromEntries(arrow.schema.fields.map((f) => [f.name, f.nullable]));
    expect(nullable.host).toBe(false);
    expect(nullable.ts).toBe(false);
    expect(nullable.note).toBe(true);
  });

  it("keeps timestamps exact across the int64 boundary cases", () => {
    const values = [0, -1, 1, -86_400_000, 2 ** 32, -(2 ** 32), 2 ** 32 - 1, 2 ** 53 - 1, -(2 ** 53 - 1)];
    const batch: ColumnBatch = {
      names: ["ts"],
      columns: [{ type: DataType.Timestamp, values: Float64Array.from(values), validity: null }],
      numRows: values.length,
    };
    const arrow = columnBatchToArrow(batch);
    expect(Array.from(arrow.getChild("ts")?.data[0]?.values as BigInt64Array)).toEqual(values.map(BigInt));
    expect(Array.from(arrowToColumnBatch(arrow).columns[0]?.values as Float64Array)).toEqual(values);
  });

  it("without a schema, writes plain nullable columns", () => {
    const batch: ColumnBatch = {
      names: ["s"],
      columns: [{ type: DataType.String, values: ["a", "b", ""], validity: Uint8Array.from([1, 1, 0]) }],
      numRows: 3,
    };
    const arrow = columnBatchToArrow(batch);
    expect(String(arrow.schema.fields[0]?.type)).toBe("Utf8");
    expect(arrow.schema.fields[0]?.nullable).toBe(true);
    expect(rowsOf(arrowToColumnBatch(arrow))).toEqual([["a"], ["b"], [null]]);
  });

  it("rejects nulls in a column the schema declares non-null", () => {
    const schema = TableSchema.create({
      timestampColumn: "ts",
      columns: [{ name: "ts", type: DataType.Timestamp }],
    });
    const batch: ColumnBatch = {
      names: ["ts"],
      columns: [{ type: DataType.Timestamp, values: new Float64Array(2), validity: Uint8Array.from([1, 0]) }],
      numRows: 2,
    };
    expect(() => columnBatchToArrow(batch, schema)).toThrow(ArrowConversionError);
  });

  it("concatenates the record batches of a Table", () => {
    const batch = allTypesBatch(300, 3);
    const parts = [0, 100, 250].map((start, i, starts) => {
      const end = starts[i + 1] ?? 300;
      const indices = Array.from({ length: end - start }, (_, k) => start + k);
      return columnBatchToArrow(
        {
          names: batch.names,
          columns: batch.columns.map((c) => ({
            type: c.type,
            values: (Array.isArray(c.values)
              ? indices.map((k) => (c.values as unknown[])[k])
              : (c.values as Float64Array).slice(start, end)) as typeof c.values,
            validity: c.validity === null ? null : c.validity.slice(start, end),
          })),
          numRows: end - start,
        },
        // Plain strings: one IPC stream cannot carry different dictionaries under one id.
        undefined,
      );
    });
    const table = new Table(parts);
    expect(table.batches.length).toBe(3);
    expect(rowsOf(arrowToColumnBatch(table))).toEqual(rowsOf(batch));
  });

  it("widens smaller integers and converts timestamps of other units to milliseconds", () => {
    const fields = [
      new Field("small", new Int16()),
      new Field("unsigned", new Uint32()),
      new Field("sec", new TimestampSecond()),
    ];
    const children = [
      makeData({ type: new Int16(), length: 2, data: Int16Array.from([-5, 7]) }),
      makeData({ type: new Uint32(), length: 2, data: Uint32Array.from([4_000_000_000, 1]) }),
      makeData({ type: new TimestampSecond(), length: 2, data: BigInt64Array.from([1n, -2n]) }),
    ];
    const batch = new RecordBatch(
      new Schema(fields),
      makeData({ type: new Struct(fields), length: 2, children }),
    );
    const out = arrowToColumnBatch(batch);
    expect(out.columns.map((c) => c.type)).toEqual([DataType.Int32, DataType.Int64, DataType.Timestamp]);
    expect(rowsOf(out)).toEqual([
      [-5, 4_000_000_000n, 1000],
      [7, 1n, -2000],
    ]);
  });

  it("names the column of an unsupported Arrow type", () => {
    const table = new Table({
      day: makeData({ type: new DateDay(), length: 1, data: Int32Array.from([1]) }),
    });
    expect(() => arrowToColumnBatch(table)).toThrow(ArrowConversionError);
    expect(() => arrowToColumnBatch(table)).toThrow(/"day"/);
  });
});
