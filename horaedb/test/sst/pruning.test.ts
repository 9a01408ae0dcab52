import { describe, expect, it } from "vitest";
import { DataType } from "../../src/table/data-type.js";
import { selectRowGroups, type RowGroupMeta, type SstMeta } from "../../src/sst/index.js";

function group(min: number, max: number, columns: RowGroupMeta["columns"]): RowGroupMeta {
  return { numRows: 10, timeRange: { min, max }, columns };
}

const meta: SstMeta = {
  formatVersion: 1,
  fileSize: 1000,
  rowCount: 40,
  timeRange: { min: 0, max: 399 },
  maxSequence: 1,
  schemaVersion: 1,
  primaryKey: ["tsid", "ts"],
  compression: "ZSTD",
  columns: [
    { name: "tsid", type: DataType.UInt64, isTag: false },
    { name: "ts", type: DataType.Timestamp, isTag: false },
    { name: "host", type: DataType.String, isTag: true },
    { name: "dc", type: DataType.String, isTag: true },
    { name: "note", type: DataType.String, isTag: false },
  ],
  rowGroups: [
    group(0, 99, { host: { min: "a", max: "a" }, dc: { min: "dc1", max: "dc5", distinct: ["dc1", "dc5"] } }),
    group(100, 199, { host: { min: "a", max: "c" }, dc: { min: "dc2", max: "dc2" } }),
    // Every dc value of this group is null.
    group(200, 299, { host: { min: "c", max: "d" }, dc: { min: null, max: null, nullCount: 10 } }),
    // No statistics for host in this group (as for a file written before the column was a tag).
    group(300, 399, { dc: { min: "dc3", max: "dc3" } }),
  ],
  crc32c: "00000000",
};

describe("selectRowGroups", () => {
  it("keeps row groups overlapping [start, end)", () => {
    expect(selectRowGroups(meta, { timeRange: { start: 99, end: 100 } })).toEqual([0]);
    expect(selectRowGroups(meta, { timeRange: { start: 99, end: 101 } })).toEqual([0, 1]);
    expect(selectRowGroups(meta, { timeRange: { start: 400, end: 500 } })).toEqual([]);
    expect(selectRowGroups(meta, { timeRange: { start: -10, end: 0 } })).toEqual([]);
    expect(selectRowGroups(meta, {})).toEqual([0, 1, 2, 3]);
  });

  it("prunes by min/max and, where listed, by the distinct values", () => {
    expect(selectRowGroups(meta, { tagFilter: { host: ["b"] } })).toEqual([1, 3]);
    expect(selectRowGroups(meta, { tagFilter: { dc: ["dc5"] } })).toEqual([0]);
    // dc3 lies between dc1 and dc5, but group 0 lists its values and dc3 is not one of them.
    expect(selectRowGroups(meta, { tagFilter: { dc: ["dc3"] } })).toEqual([3]);
    expect(selectRowGroups(meta, { tagFilter: { dc: ["dc3", "dc2"] } })).toEqual([1, 3]);
  });

  it("combines filters with AND across columns and the time range", () => {
    expect(selectRowGroups(meta, { tagFilter: { host: ["a"], dc: ["dc2"] } })).toEqual([1]);
    expect(
      selectRowGroups(meta, { tagFilter: { host: ["a"] }, timeRange: { start: 150, end: 160 } }),
    ).toEqual([1]);
  });

  it("never matches null, a column the file lacks, or an empty IN list", () => {
    expect(selectRowGroups(meta, { tagFilter: { added_later: ["x"] } })).toEqual([]);
    expect(selectRowGroups(meta, { tagFilter: { host: [] } })).toEqual([]);
    expect(selectRowGroups(meta, { tagFilter: { dc: ["dc4"] } })).toEqual([]);
  });

  it("does not prune by columns that are not tags", () => {
    expect(selectRowGroups(meta, { tagFilter: { note: ["anything"] } })).toEqual([0, 1, 2, 3]);
  });
});
