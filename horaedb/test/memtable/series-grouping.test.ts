import { describe, expect, it } from "vitest";
import { stringDictionary } from "../../src/batch/string-dictionary.js";
import { Memtable } from "../../src/memtable/index.js";
import { groupRowsBySeries } from "../../src/memtable/series-grouping.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { UpdateMode } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";
import { batchFromRows, rowsOf, seededRandom } from "./rows.js";

/** Every value type, nullable fields included. */
const schema = TableSchema.create({
  timestampColumn: "ts",
  columns: [
    { name: "ts", type: DataType.Timestamp },
    { name: "host", type: DataType.String, isTag: true },
    { name: "f64", type: DataType.Double },
    { name: "f32", type: DataType.Float },
    { name: "i32", type: DataType.Int32 },
    { name: "i64", type: DataType.Int64 },
    { name: "u64", type: DataType.UInt64 },
    { name: "flag", type: DataType.Boolean },
    { name: "note", type: DataType.String },
    { name: "blob", type: DataType.Varbinary },
  ],
});
const NAMES = ["tsid", "ts", "host", "f64", "f32", "i32", "i64", "u64", "flag", "note", "blob"];

/** A row of series `s` at second `t`, its values derived from `v` (null in some columns now and then). */
function row(s: number, t: number, v: number): CellValue[] {
  return [
    BigInt(s) * 2n ** 61n + 3n,
    t * 1000,
    `h${s}`,
    v / 4,
    v % 7 === 0 ? null : v,
    v * 3,
    -BigInt(v) * 2n ** 40n,
    BigInt(v) + 2n ** 63n,
    v % 2 === 0,
    v % 5 === 0 ? null : `n${v}`,
    v % 3 === 0 ? null : Uint8Array.of(v & 255, s),
  ];
}

describe("groupRowsBySeries", () => {
  it("puts each tsid's rows together, in their written order, carrying every column along", () => {
    // Time-major, as writers send rows: each series at second t, then each at t + 1, ...
    const rows: CellValue[][] = [];
    let v = 0;
    for (let t = 0; t < 6; t++) for (const s of [2, 0, 1]) rows.push(row(s, t, v++));
    // A repeated key of series 0: which of the two is later must not change.
    rows.push(row(0, 3, 100), row(1, 9, 101));
    const grouped = groupRowsBySeries(batchFromRows(schema, NAMES, rows));
    const expected = [2, 0, 1].flatMap((s) => rows.filter((r) => r[2] === `h${s}`));
    expect(rowsOf([grouped])).toEqual(expected);
    expect(grouped.names).toEqual(NAMES);
  });

  it("carries a string column's dictionary coding over to the grouped column", () => {
    const rows = [row(1, 0, 1), row(0, 0, 2), row(1, 1, 3), row(0, 1, 4)];
    const written = batchFromRows(schema, NAMES, rows);
    const host = written.columns[2]?.values as string[];
    const coding = stringDictionary(host, rows.length);
    const grouped = groupRowsBySeries(written).columns[2]?.values as string[];
    expect(grouped).toEqual(["h1", "h1", "h0", "h0"]);
    // The same dictionary, not one coded afresh from the grouped rows.
    expect(stringDictionary(grouped, rows.length).values).toBe(coding.values);
  });

  it("returns a batch whose rows are already grouped (or that has no tsid) as it is", () => {
    const grouped = batchFromRows(schema, NAMES, [row(1, 0, 1), row(1, 1, 2), row(0, 0, 3), row(2, 5, 4)]);
    expect(groupRowsBySeries(grouped)).toBe(grouped);
    const noTsid = batchFromRows(
      schema,
      ["ts", "host"],
      [
        [1, "a"],
        [2, "b"],
        [3, "a"],
      ],
    );
    expect(groupRowsBySeries(noTsid)).toBe(noTsid);
    const split = batchFromRows(schema, NAMES, [row(1, 0, 1), row(0, 0, 2), row(1, 1, 3)]);
    expect(groupRowsBySeries(split)).not.toBe(split);
  });

  it("leaves what a memtable reads unchanged, duplicates included", () => {
    const random = seededRandom(17);
    for (const updateMode of [UpdateMode.Overwrite, UpdateMode.Append]) {
      for (let round = 0; round < 50; round++) {
        const batches = Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
          const rows = Array.from({ length: Math.floor(random() * 40) }, () =>
            row(Math.floor(random() * 5), Math.floor(random() * 8), Math.floor(random() * 1000)),
          );
          return batchFromRows(schema, NAMES, rows);
        });
        const memtable = new Memtable({ schema, updateMode });
        batches.forEach((b, i) => memtable.append(b, i + 1));
        // What the rows sort to, by the rules the memtable keeps: key, then later write last.
        const written = batches.flatMap((b, i) => rowsOf([b]).map((r, at) => ({ r, seq: i + 1, at })));
        written.sort(
          (a, b) =>
            compareBigInts(a.r[0] as bigint, b.r[0] as bigint) ||
            (a.r[1] as number) - (b.r[1] as number) ||
            a.seq - b.seq ||
            a.at - b.at,
        );
        const sameKey = (a: CellValue[], b: CellValue[] | undefined) =>
          b !== undefined && a[0] === b[0] && a[1] === b[1];
        const expected =
          updateMode === UpdateMode.Append
            ? written.map((w) => w.r)
            : written.filter((w, i) => !sameKey(w.r, written[i + 1]?.r)).map((w) => w.r);
        expect(rowsOf(memtable.sortedBatches({ projection: NAMES })), `round ${round}`).toEqual(expected);
      }
    }
  });
});

function compareBigInts(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
