import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import { buildKeyLanes } from "../../src/memtable/key-lanes.js";
import { bitLength, radixSortByLanes, type SortLane } from "../../src/memtable/radix-sort.js";
import { DataType } from "../../src/table/data-type.js";
import { seededRandom } from "./rows.js";

function identity(n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i);
}

describe("radixSortByLanes", () => {
  it("sorts by lanes most significant first and keeps equal keys in input order", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = seededRandom(seed);
      const n = 1 + Math.floor(rnd() * 3000);
      const widths = [1 + Math.floor(rnd() * 32), 1 + Math.floor(rnd() * 5), 32];
      const lanes: SortLane[] = widths.map((bits) => ({
        bits,
        values: Uint32Array.from({ length: n }, () => Math.floor(rnd() * 2 ** Math.min(bits, 3))),
      }));
      const expected = Array.from(identity(n)).sort((a, b) => {
        for (const lane of lanes) {
          const d = (lane.values[a] as number) - (lane.values[b] as number);
          if (d !== 0) return d;
        }
        return a - b;
      });
      expect(Array.from(radixSortByLanes(identity(n), lanes)), `seed ${seed}`).toEqual(expected);
    }
  });

  it("handles zero-width lanes and tiny inputs", () => {
    expect(Array.from(radixSortByLanes(identity(0), []))).toEqual([]);
    expect(Array.from(radixSortByLanes(identity(1), [{ bits: 3, values: new Uint32Array([5]) }]))).toEqual([
      0,
    ]);
    const lanes = [{ bits: 0, values: new Uint32Array(3) }];
    expect(Array.from(radixSortByLanes(identity(3), lanes))).toEqual([0, 1, 2]);
  });

  it("counts bits", () => {
    expect([0, 1, 2, 3, 4, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1].map(bitLength)).toEqual([
      0, 1, 2, 2, 3, 32, 33, 53,
    ]);
  });
});

describe("buildKeyLanes", () => {
  function rankOrder(lanes: SortLane[], n: number): number[] {
    return Array.from(radixSortByLanes(identity(n), lanes));
  }

  it("orders timestamps spanning more than 2^32 ms exactly, across chunks", () => {
    const a: Column = {
      type: DataType.Timestamp,
      values: new Float64Array([2 ** 52, -(2 ** 40), 5]),
      validity: null,
    };
    const b: Column = {
      type: DataType.Timestamp,
      values: new Float64Array([2 ** 52 + 1, 4, 0]),
      validity: null,
    };
    const lanes = buildKeyLanes({
      type: DataType.Timestamp,
      columns: [a, b],
      rowCounts: [3, 2],
      totalRows: 5,
    });
    expect(lanes).toHaveLength(2);
    expect(rankOrder(lanes, 5)).toEqual([1, 4, 2, 0, 3]);
  });

  it("falls back to ranks for non-integer timestamps", () => {
    const c: Column = { type: DataType.Timestamp, values: new Float64Array([1.5, 1.25, 1]), validity: null };
    const lanes = buildKeyLanes({ type: DataType.Timestamp, columns: [c], rowCounts: [3], totalRows: 3 });
    expect(rankOrder(lanes, 3)).toEqual([2, 1, 0]);
  });

  it("ranks random int64 and uint64 values in BigInt order", () => {
    const rnd = seededRandom(77);
    const n = 2000;
    const random64 = () => (BigInt(Math.floor(rnd() * 2 ** 32)) << 32n) | BigInt(Math.floor(rnd() * 2 ** 32));
    for (const type of [DataType.Int64, DataType.UInt64] as const) {
      const values = type === DataType.Int64 ? new BigInt64Array(n) : new BigUint64Array(n);
      // Few distinct values, so ranks repeat.
      const pool = Array.from({ length: 300 }, random64);
      for (let i = 0; i < n; i++) {
        const v = pool[Math.floor(rnd() * pool.length)] as bigint;
        values[i] = type === DataType.Int64 ? BigInt.asIntN(64, v) : v;
      }
      const lanes = buildKeyLanes({
        type,
        columns: [{ type, values, validity: null }],
        rowCounts: [n],
        totalRows: n,
      });
      const expected = Array.from(identity(n)).sort((a, b) => {
        const x = values[a] as bigint;
        const y = values[b] as bigint;
        return x < y ? -1 : x > y ? 1 : a - b;
      });
      expect(rankOrder(lanes, n), type).toEqual(expected);
    }
  });
});
