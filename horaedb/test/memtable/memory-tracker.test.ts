import { describe, expect, it } from "vitest";
import { DEFAULT_HARD_LIMIT_RATIO, MemoryTracker, MemtableSet } from "../../src/memtable/index.js";
import { DataType } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";
import { batchFromRows } from "./rows.js";

describe("MemoryTracker", () => {
  it("accounts bytes per table and in total, replacing a table's previous report", () => {
    const tracker = new MemoryTracker({ budgetBytes: 1000 });
    tracker.update(1, { mutableBytes: 100, immutableBytes: 50 });
    tracker.update(2, { mutableBytes: 30, immutableBytes: 0 });
    expect([tracker.totalBytes, tracker.mutableBytes, tracker.immutableBytes]).toEqual([180, 130, 50]);
    tracker.update(1, { mutableBytes: 10, immutableBytes: 0 });
    expect(tracker.usageOf(1)).toEqual({ mutableBytes: 10, immutableBytes: 0 });
    expect(tracker.totalBytes).toBe(40);
    tracker.remove(2);
    expect(tracker.usageOf(2)).toEqual({ mutableBytes: 0, immutableBytes: 0 });
    expect(tracker.totalBytes).toBe(10);
    expect(() => tracker.update(3, { mutableBytes: -1, immutableBytes: 0 })).toThrow(RangeError);
  });

  it("picks nothing while the unflushed bytes fit the budget", () => {
    const tracker = new MemoryTracker({ budgetBytes: 100 });
    tracker.update(1, { mutableBytes: 60, immutableBytes: 0 });
    tracker.update(2, { mutableBytes: 40, immutableBytes: 0 });
    expect(tracker.needsFlush).toBe(false);
    expect(tracker.pickTableToFlush()).toBeUndefined();
    expect(tracker.tablesToFlush()).toEqual([]);
  });

  it("picks the table with the largest mutable memtable first when over budget", () => {
    const tracker = new MemoryTracker({ budgetBytes: 100 });
    tracker.update(1, { mutableBytes: 30, immutableBytes: 0 });
    tracker.update(2, { mutableBytes: 50, immutableBytes: 0 });
    tracker.update(3, { mutableBytes: 45, immutableBytes: 0 });
    expect(tracker.needsFlush).toBe(true);
    expect(tracker.pickTableToFlush()).toBe(2);
    // 125 bytes: flushing table 2 (50) brings it to 75, within the budget.
    expect(tracker.tablesToFlush()).toEqual([2]);
    tracker.update(4, { mutableBytes: 80, immutableBytes: 0 });
    expect(tracker.tablesToFlush()).toEqual([4, 2]);
  });

  it("breaks ties by table id", () => {
    const tracker = new MemoryTracker({ budgetBytes: 10 });
    tracker.update(7, { mutableBytes: 20, immutableBytes: 0 });
    tracker.update(3, { mutableBytes: 20, immutableBytes: 0 });
    expect(tracker.pickTableToFlush()).toBe(3);
  });

  it("does not ask for more flushes for bytes already being flushed", () => {
    const tracker = new MemoryTracker({ budgetBytes: 100 });
    tracker.update(1, { mutableBytes: 0, immutableBytes: 90 });
    tracker.update(2, { mutableBytes: 40, immutableBytes: 0 });
    expect(tracker.totalBytes).toBe(130);
    expect(tracker.pickTableToFlush()).toBeUndefined();
    expect(tracker.admit(0)).toBeDefined();
  });

  it("refuses writes at the hard limit, by default 1.5 times the budget", () => {
    const tracker = new MemoryTracker({ budgetBytes: 100 });
    expect(DEFAULT_HARD_LIMIT_RATIO).toBe(1.5);
    expect(tracker.hardLimitBytes).toBe(150);
    tracker.update(1, { mutableBytes: 60, immutableBytes: 89 });
    tracker.admit(5)?.();
    tracker.update(1, { mutableBytes: 60, immutableBytes: 90 });
    expect(tracker.admit(5)).toBeUndefined();
    tracker.update(1, { mutableBytes: 60, immutableBytes: 0 });
    expect(tracker.admit(5)).toBeDefined();
  });

  it("counts the writes admitted and not yet released against the hard limit", () => {
    const tracker = new MemoryTracker({ budgetBytes: 100 });
    tracker.update(1, { mutableBytes: 100, immutableBytes: 0 });
    const first = tracker.admit(30);
    const second = tracker.admit(30);
    expect(tracker.admittedBytes).toBe(60);
    // 100 held + 60 admitted is past 150: the next write waits for one of them.
    expect(tracker.admit(1)).toBeUndefined();
    first?.();
    first?.();
    expect(tracker.admittedBytes).toBe(30);
    const third = tracker.admit(30);
    expect(third).toBeDefined();
    second?.();
    third?.();
    expect(tracker.admittedBytes).toBe(0);
  });

  it("takes the hard limit as bytes or as a ratio, and rejects limits below the budget", () => {
    expect(new MemoryTracker({ budgetBytes: 100, hardLimitBytes: 120 }).hardLimitBytes).toBe(120);
    expect(new MemoryTracker({ budgetBytes: 100, hardLimitRatio: 2 }).hardLimitBytes).toBe(200);
    expect(() => new MemoryTracker({ budgetBytes: 100, hardLimitBytes: 99 })).toThrow(RangeError);
    expect(() => new MemoryTracker({ budgetBytes: 0 })).toThrow(RangeError);
  });

  it("follows a table's memtables through append, switch and flush", () => {
    const schema = TableSchema.create({
      timestampColumn: "ts",
      columns: [{ name: "ts", type: DataType.Timestamp }],
    });
    const set = new MemtableSet({ schema });
    const tracker = new MemoryTracker({ budgetBytes: 1 });
    set.append(batchFromRows(schema, ["tsid", "ts"], [[1n, 1]]), 1);
    tracker.update(9, set.memoryUsage());
    expect(tracker.pickTableToFlush()).toBe(9);
    const frozen = set.switchMemtable();
    tracker.update(9, set.memoryUsage());
    expect(tracker.pickTableToFlush()).toBeUndefined();
    expect(tracker.immutableBytes).toBe(frozen?.byteSize);
    if (frozen !== undefined) set.removeFlushed(frozen);
    tracker.update(9, set.memoryUsage());
    expect(tracker.totalBytes).toBe(0);
  });
});
