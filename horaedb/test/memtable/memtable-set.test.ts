import { describe, expect, it } from "vitest";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import { MemtableFrozenError, MemtableNotFoundError, MemtableSet } from "../../src/memtable/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { UpdateMode } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";
import { batchFromRows, rowsOf } from "./rows.js";

const schema = TableSchema.create({
  timestampColumn: "ts",
  columns: [
    { name: "ts", type: DataType.Timestamp },
    { name: "v", type: DataType.String },
  ],
});

function batch(rows: CellValue[][]): ColumnBatch {
  return batchFromRows(schema, ["tsid", "ts", "v"], rows);
}

function read(set: MemtableSet, projection: string[] = ["tsid", "ts", "v"]): CellValue[][] {
  return rowsOf(set.sortedBatches({ projection }));
}

describe("MemtableSet", () => {
  it("switches to a fresh memtable and keeps the frozen one readable until removed", () => {
    let clock = 100;
    const set = new MemtableSet({ schema, table: "t", now: () => clock });
    set.append(batch([[1n, 1, "a"]]), 1);
    const first = set.mutable;
    clock = 200;
    const frozen = set.switchMemtable();
    expect(frozen).toBe(first);
    expect(frozen?.isFrozen).toBe(true);
    expect(set.immutables).toEqual([first]);
    expect(set.mutable).not.toBe(first);
    expect(set.mutable.createdAt).toBe(200);
    expect(() => first.append(batch([[1n, 3, "late"]]), 3)).toThrow(MemtableFrozenError);

    set.append(batch([[1n, 2, "b"]]), 2);
    expect(set.mutable.numRows).toBe(1);
    expect(read(set)).toEqual([
      [1n, 1, "a"],
      [1n, 2, "b"],
    ]);
    expect(set.numRows).toBe(2);

    set.removeFlushed(first);
    expect(set.immutables).toEqual([]);
    expect(read(set)).toEqual([[1n, 2, "b"]]);
  });

  it("does not switch an empty memtable", () => {
    const set = new MemtableSet({ schema });
    const mutable = set.mutable;
    expect(set.switchMemtable()).toBeUndefined();
    expect(set.mutable).toBe(mutable);
    expect(set.immutables).toEqual([]);
  });

  it("refuses to remove a memtable that is not awaiting flush", () => {
    const set = new MemtableSet({ schema, table: "t" });
    set.append(batch([[1n, 1, "a"]]), 1);
    expect(() => set.removeFlushed(set.mutable)).toThrow(MemtableNotFoundError);
    const frozen = set.switchMemtable();
    if (frozen === undefined) throw new Error("expected a frozen memtable");
    set.removeFlushed(frozen);
    expect(() => set.removeFlushed(frozen)).toThrow(MemtableNotFoundError);
  });

  it("lets the higher sequence win across memtables, even when it sits in the older one", () => {
    const set = new MemtableSet({ schema, updateMode: UpdateMode.Overwrite });
    set.append(batch([[1n, 1, "seq 10 in the frozen memtable"]]), 10);
    set.switchMemtable();
    // A write with an earlier sequence that reached the memtable after the switch.
    set.append(batch([[1n, 1, "seq 9 in the mutable memtable"]]), 9);
    set.append(batch([[1n, 2, "seq 11"]]), 11);
    expect(read(set, ["ts", "v"])).toEqual([
      [1, "seq 10 in the frozen memtable"],
      [2, "seq 11"],
    ]);
    expect([set.minSequence, set.maxSequence]).toEqual([9, 11]);
  });

  it("lets the newer memtable win on equal keys in order of sequence", () => {
    const set = new MemtableSet({ schema });
    set.append(batch([[1n, 1, "old"]]), 1);
    set.switchMemtable();
    set.append(batch([[1n, 1, "new"]]), 2);
    set.switchMemtable();
    set.append(batch([[2n, 1, "other"]]), 3);
    expect(read(set, ["v"])).toEqual([["new"], ["other"]]);
  });

  it("keeps every row in APPEND mode, ordered by sequence across memtables", () => {
    const set = new MemtableSet({ schema, updateMode: UpdateMode.Append });
    set.append(batch([[1n, 1, "seq 5"]]), 5);
    set.switchMemtable();
    set.append(batch([[1n, 1, "seq 3"]]), 3);
    set.append(batch([[1n, 1, "seq 7"]]), 7);
    expect(read(set, ["v"])).toEqual([["seq 3"], ["seq 5"], ["seq 7"]]);
  });

  it("sees later appends after a cached merged read", () => {
    const set = new MemtableSet({ schema });
    set.append(batch([[1n, 2, "a"]]), 1);
    set.switchMemtable();
    set.append(batch([[1n, 3, "b"]]), 2);
    expect(read(set, ["ts"])).toEqual([[2], [3]]);
    expect(read(set, ["ts"])).toEqual([[2], [3]]);
    expect(set.sortCount).toBe(1);
    set.append(batch([[1n, 1, "c"]]), 3);
    expect(read(set, ["ts"])).toEqual([[1], [2], [3]]);
    expect(set.sortCount).toBe(2);
  });

  it("reads frozen memtables as the current schema after columns are added", () => {
    const set = new MemtableSet({ schema });
    set.append(batch([[1n, 1, "a"]]), 1);
    set.switchMemtable();
    const wider = schema.withAddedColumns([{ name: "n", type: DataType.Int32 }]);
    set.updateSchema(wider);
    expect(set.schema).toBe(wider);
    expect(set.mutable.schema).toBe(wider);
    set.append(batchFromRows(wider, ["tsid", "ts", "n"], [[1n, 2, 42]]), 2);
    expect(read(set, ["ts", "v", "n"])).toEqual([
      [1, "a", null],
      [2, null, 42],
    ]);
    // With only the frozen memtable holding rows, the set still reads as the new schema.
    const onlyFrozen = new MemtableSet({ schema });
    onlyFrozen.append(batch([[1n, 1, "a"]]), 1);
    onlyFrozen.switchMemtable();
    onlyFrozen.updateSchema(wider);
    expect(rowsOf(onlyFrozen.sortedBatches())).toEqual([[1n, 1, "a", null]]);
  });

  it("reports mutable and frozen bytes separately", () => {
    const set = new MemtableSet({ schema });
    const added = set.append(batch([[1n, 1, "a"]]), 1);
    expect(set.memoryUsage()).toEqual({ mutableBytes: added, immutableBytes: 0 });
    set.switchMemtable();
    const more = set.append(batch([[1n, 2, "bb"]]), 2);
    expect(set.memoryUsage()).toEqual({ mutableBytes: more, immutableBytes: added });
    expect(set.byteSize).toBe(added + more);
  });
});
