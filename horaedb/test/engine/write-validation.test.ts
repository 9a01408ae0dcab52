import { describe, expect, it } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import { columnOf, type ColumnBatch } from "../../src/batch/column-batch.js";
import { WriteError } from "../../src/engine/errors.js";
import { prepareWrite, type WriteRows } from "../../src/engine/write-validation.js";
import { DataType } from "../../src/table/data-type.js";
import { TableSchema, TSID_COLUMN } from "../../src/table/schema.js";
import { computeTsid } from "../../src/table/tsid.js";

const policy = { autoCreateTable: true, autoAddColumns: true };

function strings(values: (string | null)[]): Column {
  const validity = values.includes(null) ? Uint8Array.from(values, (v) => (v === null ? 0 : 1)) : null;
  return { type: DataType.String, values: values.map((v) => v ?? ""), validity };
}
const doubles = (values: number[]): Column => ({
  type: DataType.Double,
  values: Float64Array.from(values),
  validity: null,
});
const timestamps = (values: number[]): Column => ({
  type: DataType.Timestamp,
  values: Float64Array.from(values),
  validity: null,
});

function rows(columns: Record<string, Column>, tags: string[] = ["host"]): WriteRows {
  const names = Object.keys(columns);
  const batch: ColumnBatch = {
    names,
    columns: Object.values(columns),
    numRows: Object.values(columns)[0]?.values.length ?? 0,
  };
  return { batch, tagNames: new Set(tags), timestampColumn: "ts" };
}

describe("prepareWrite", () => {
  it("creates a schema from the first write, with tags, fields and a tsid per series", () => {
    const prepared = prepareWrite(
      "cpu",
      undefined,
      rows({ host: strings(["a", "b"]), ts: timestamps([1, 2]), usage: doubles([0.5, 0.7]) }),
      policy,
    );
    expect(prepared.schemaChanged).toBe(true);
    expect(prepared.schema.columns.map((c) => [c.name, c.type, c.isTag])).toEqual([
      [TSID_COLUMN, DataType.UInt64, false],
      ["host", DataType.String, true],
      ["ts", DataType.Timestamp, false],
      ["usage", DataType.Double, false],
    ]);
    const tsid = columnOf(prepared.batch, TSID_COLUMN) as Column;
    expect(cellAt(tsid, 0)).toBe(computeTsid([["host", "a"]]));
    expect(cellAt(tsid, 1)).toBe(computeTsid([["host", "b"]]));
  });

  it("adds new columns as a new schema version and fills absent columns with nulls", () => {
    const base = prepareWrite(
      "cpu",
      undefined,
      rows({ host: strings(["a"]), ts: timestamps([1]), usage: doubles([1]) }),
      policy,
    ).schema;
    const prepared = prepareWrite(
      "cpu",
      base,
      rows({ host: strings(["a"]), ts: timestamps([2]), idle: doubles([3]) }),
      policy,
    );
    expect(prepared.schemaChanged).toBe(true);
    expect(prepared.schema.version).toBe(base.version + 1);
    expect(cellAt(columnOf(prepared.batch, "usage") as Column, 0)).toBeNull();
    expect(cellAt(columnOf(prepared.batch, "idle") as Column, 0)).toBe(3);
    const same = prepareWrite(
      "cpu",
      prepared.schema,
      rows({ host: strings(["a"]), ts: timestamps([3]) }),
      policy,
    );
    expect(same.schemaChanged).toBe(false);
    expect(same.schema).toBe(prepared.schema);
  });

  it("applies column defaults to missing values", () => {
    const schema = TableSchema.create({
      timestampColumn: "ts",
      columns: [
        { name: "host", type: DataType.String, isTag: true },
        { name: "ts", type: DataType.Timestamp },
        { name: "region", type: DataType.String, defaultValue: "eu" },
      ],
    });
    const prepared = prepareWrite("cpu", schema, rows({ host: strings(["a"]), ts: timestamps([1]) }), policy);
    expect(cellAt(columnOf(prepared.batch, "region") as Column, 0)).toBe("eu");
  });

  const existing = prepareWrite(
    "cpu",
    undefined,
    rows({ host: strings(["a"]), ts: timestamps([1]), usage: doubles([1]) }),
    policy,
  ).schema;
  it.each([
    ["no rows", rows({ host: strings([]), ts: timestamps([]) }), /at least one row/, undefined],
    [
      "missing timestamp",
      rows({ host: strings(["a"]), usage: doubles([1]) }),
      /timestamp column "ts" is missing/,
      "ts",
    ],
    [
      "fractional timestamp",
      rows({ host: strings(["a"]), ts: timestamps([1.5]) }),
      /row 0: timestamp 1.5/,
      "ts",
    ],
    [
      "out-of-range timestamp",
      rows({ host: strings(["a"]), ts: timestamps([2 ** 60]) }),
      /within ±2\^53/,
      "ts",
    ],
    [
      "type conflict",
      rows({ host: strings(["a"]), ts: timestamps([1]), usage: strings(["x"]) }),
      /column "usage" is double, the write has string/,
      "usage",
    ],
    [
      "tag written as field",
      rows({ host: strings(["a"]), ts: timestamps([1]) }, []),
      /column "host" is a TAG/,
      "host",
    ],
    [
      "writing the generated tsid",
      rows({
        host: strings(["a"]),
        ts: timestamps([1]),
        tsid: { type: DataType.UInt64, values: new BigUint64Array(1), validity: null },
      }),
      /generated/,
      "tsid",
    ],
  ])("rejects %s with an error naming the column", (_name, input, message, column) => {
    const attempt = () => prepareWrite("cpu", existing, input, policy);
    expect(attempt).toThrow(WriteError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect((error as WriteError).column).toBe(column);
      expect((error as WriteError).kind).toBe("invalid_argument");
    }
  });

  it("rejects a duplicate column and a non-string tag when creating a table", () => {
    const dup: WriteRows = {
      batch: { names: ["ts", "ts"], columns: [timestamps([1]), timestamps([1])], numRows: 1 },
      tagNames: new Set(),
      timestampColumn: "ts",
    };
    expect(() => prepareWrite("cpu", undefined, dup, policy)).toThrow(/column "ts" appears twice/);
    expect(() =>
      prepareWrite("cpu", undefined, rows({ host: doubles([1]), ts: timestamps([1]) }), policy),
    ).toThrow(/TAG column "host" must be of type string/);
  });

  it("refuses unknown tables and columns when the policy forbids creating them", () => {
    const strict = { autoCreateTable: false, autoAddColumns: false };
    expect(() =>
      prepareWrite("cpu", undefined, rows({ host: strings(["a"]), ts: timestamps([1]) }), strict),
    ).toThrow(/table does not exist/);
    expect(() =>
      prepareWrite(
        "cpu",
        existing,
        rows({ host: strings(["a"]), ts: timestamps([1]), idle: doubles([1]) }),
        strict,
      ),
    ).toThrow(/unknown column "idle"/);
  });
});
