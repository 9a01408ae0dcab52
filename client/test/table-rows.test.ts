import {
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { describe, expect, it } from "vitest";
import { tableRows } from "../src/index.js";

/** What rows are defined as: each row's proxy, as JSON, spread into a plain object. */
function rowsThroughProxies(table: Table): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  for (let i = 0; i < table.numRows; i++) {
    const row = table.get(i);
    if (row !== null) rows.push({ ...(row.toJSON() as Record<string, unknown>) });
  }
  return rows;
}

function batch(rows: number, seed: number): RecordBatch {
  const at = <T>(f: (i: number) => T) =>
    Array.from({ length: rows }, (_, i) => ((i + seed) % 3 === 1 ? null : f(i + seed)));
  return new Table({
    host: vectorFromArray(
      at((i) => `host_${i % 4}`),
      new Utf8(),
    ),
    ts: vectorFromArray(
      at((i) => 1_795_000_000_000 + i),
      new TimestampMillisecond(),
    ),
    usage: vectorFromArray(
      at((i) => i / 2),
      new Float64(),
    ),
    n: vectorFromArray(
      at((i) => BigInt(i) - 3n),
      new Int64(),
    ),
  }).batches[0] as RecordBatch;
}

describe("tableRows", () => {
  it("gives the rows the row proxies give, over several batches and with nulls", () => {
    const table = new Table([batch(5, 0), batch(0, 1), batch(7, 2)]);
    const rows = tableRows(table);
    expect(rows).toHaveLength(12);
    expect(rows).toEqual(rowsThroughProxies(table));
    expect(rows[1]).toEqual({ host: null, ts: null, usage: null, n: null });
    expect(rows[2]).toEqual({ host: "host_2", ts: 1_795_000_000_002, usage: 1, n: -1n });
  });

  it("lets a later column win over an earlier one of the same name, and drops one named __proto__", () => {
    const fields = [
      new Field("v", new Int32()),
      new Field("__proto__", new Int32()),
      new Field("v", new Float64()),
    ];
    const data = makeData({
      type: new Struct(fields),
      length: 2,
      children: [
        makeData({ type: new Int32(), length: 2, data: Int32Array.of(1, 2) }),
        makeData({ type: new Int32(), length: 2, data: Int32Array.of(3, 4) }),
        makeData({ type: new Float64(), length: 2, data: Float64Array.of(0.5, 1.5) }),
      ],
    });
    const table = new Table([new RecordBatch(new Schema(fields), data)]);
    const rows = tableRows(table);
    expect(rows).toEqual(rowsThroughProxies(table));
    expect(rows).toEqual([{ v: 0.5 }, { v: 1.5 }]);
    expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
  });
});
