import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import { columnOf } from "../../src/batch/column-batch.js";
import type { ValueComparison } from "../../src/batch/row-predicate.js";
import type { TagFilter } from "../../src/sst/pruning.js";
import {
  candidateRuns,
  computeSeriesRuns,
  matchingRanges,
  runsMayPass,
  runTagChecks,
  SeriesRuns,
} from "../../src/sst/series-runs.js";
import { DataType } from "../../src/table/data-type.js";
import { lcgRandom, tsbsSortedBatch } from "../../src/testing/tsbs.js";

function tsidColumn(ids: readonly bigint[]): Column {
  return { type: DataType.UInt64, values: BigUint64Array.from(ids), validity: null };
}

function tsColumn(ts: readonly number[]): Column {
  return { type: DataType.Timestamp, values: Float64Array.from(ts), validity: null };
}

function stringColumn(values: ReadonlyArray<string | null>): Column {
  return {
    type: DataType.String,
    values: values.map((v) => v ?? ""),
    validity: values.includes(null) ? Uint8Array.from(values, (v) => (v === null ? 0 : 1)) : null,
  };
}

describe("series runs", () => {
  it("finds one run per series of a row group sorted by (tsid, timestamp)", () => {
    const batch = tsbsSortedBatch(5, 40);
    const runs = computeSeriesRuns(
      columnOf(batch, "tsid") as Column,
      columnOf(batch, "timestamp") as Column,
      batch.numRows,
    ) as SeriesRuns;
    expect(runs.count).toBe(5);
    expect([...runs.starts]).toEqual([0, 40, 80, 120, 160, 200]);
    expect(runs.isUniform("hostname", columnOf(batch, "hostname") as Column)).toBe(true);
    expect(runs.isUniform("usage_user", columnOf(batch, "usage_user") as Column)).toBe(false);
  });

  it("compares tsids as unsigned 64-bit values, high word first", () => {
    const ids = [1n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n];
    const runs = computeSeriesRuns(tsidColumn(ids), tsColumn([1, 2, 0, 0, 0, 0]), ids.length);
    expect(runs === undefined ? undefined : [...runs.starts]).toEqual([0, 2, 3, 4, 5, 6]);
  });

  it("accepts equal timestamps in a run (APPEND) but refuses rows out of order", () => {
    expect(computeSeriesRuns(tsidColumn([1n, 1n, 1n]), tsColumn([5, 5, 6]), 3)?.count).toBe(1);
    expect(computeSeriesRuns(tsidColumn([1n, 1n]), tsColumn([6, 5]), 2)).toBeUndefined();
    expect(computeSeriesRuns(tsidColumn([2n, 1n]), tsColumn([1, 2]), 2)).toBeUndefined();
    expect(computeSeriesRuns(tsidColumn([1n, 2n, 1n]), tsColumn([1, 1, 2]), 3)).toBeUndefined();
    expect(computeSeriesRuns(tsidColumn([2n ** 40n, 5n]), tsColumn([1, 1]), 2)).toBeUndefined();
  });

  it("sees a tag that changes inside a run (two series with one tsid) as not uniform", () => {
    const runs = computeSeriesRuns(tsidColumn([1n, 1n, 2n]), tsColumn([1, 2, 1]), 3) as SeriesRuns;
    expect(runs.isUniform("host", stringColumn(["a", "b", "c"]))).toBe(false);
    expect(runs.isUniform("region", stringColumn(["x", null, "y"]))).toBe(false);
    expect(runs.isUniform("dc", stringColumn([null, null, "y"]))).toBe(true);
    expect(runTagChecks(runs, { host: ["a"] }, () => stringColumn(["a", "b", "c"]))).toBeUndefined();
  });

  it("keeps exactly the rows a row-by-row filter keeps, as ranges in row order", () => {
    const random = lcgRandom(11);
    let lookedUp = 0;
    let tested = 0;
    for (let trial = 0; trial < 400; trial++) {
      // Series of random lengths, random sorted timestamps, two tags with nulls. Up to 60 series
      // of up to 24 hosts: a filter of a few hosts is looked up, one of many tested run by run.
      const ids: bigint[] = [];
      const ts: number[] = [];
      const hosts: Array<string | null> = [];
      const dcs: Array<string | null> = [];
      const series = 1 + Math.floor(random() * 60);
      const hostCount = 1 + Math.floor(random() * 24);
      for (let s = 0; s < series; s++) {
        const host = random() < 0.15 ? null : `h${Math.floor(random() * hostCount)}`;
        const dc = random() < 0.1 ? null : `d${Math.floor(random() * 3)}`;
        let t = Math.floor(random() * 20);
        const length = 1 + Math.floor(random() * 12);
        for (let i = 0; i < length; i++) {
          ids.push(BigInt(s * 1000 + 7));
          ts.push(t);
          hosts.push(host);
          dcs.push(dc);
          t += Math.floor(random() * 3);
        }
      }
      const columns: Record<string, Column> = { host: stringColumn(hosts), dc: stringColumn(dcs) };
      const timestamps = tsColumn(ts);
      const runs = computeSeriesRuns(tsidColumn(ids), timestamps, ids.length) as SeriesRuns;
      const start = Math.floor(random() * 30) - 5;
      const timeRange = random() < 0.2 ? undefined : { start, end: start + Math.floor(random() * 20) };
      const pick = (values: string[], p: number) => values.filter(() => random() < p);
      const allHosts = Array.from({ length: hostCount + 1 }, (_, i) => `h${i}`);
      // Mostly a host or two (a lookup), sometimes many; sometimes a data center as well.
      const allowedHosts = random() < 0.6 ? pick(allHosts, 2 / allHosts.length) : pick(allHosts, 0.5);
      const tagFilter: TagFilter | undefined =
        random() < 0.2
          ? undefined
          : random() < 0.3
            ? { host: allowedHosts, dc: pick(["d0", "d1", "d2", "d9"], 0.5) }
            : { host: allowedHosts };
      const checks = runTagChecks(runs, tagFilter, (name) => columns[name] as Column);
      expect(checks).toBeDefined();
      if (candidateRuns(runs, checks ?? []).length === runs.count) tested++;
      else lookedUp++;
      const ranges = matchingRanges(runs, timestamps.values as Float64Array, timeRange, checks ?? []);
      const kept: number[] = [];
      for (let i = 0; i < ranges.length; i += 2) {
        expect(ranges[i] as number).toBeLessThan(ranges[i + 1] as number);
        if (i > 0) expect(ranges[i] as number).toBeGreaterThan(ranges[i - 1] as number);
        for (let r = ranges[i] as number; r < (ranges[i + 1] as number); r++) kept.push(r);
      }
      const expected = ts.flatMap((t, r) => {
        const inTime = timeRange === undefined || (t >= timeRange.start && t < timeRange.end);
        const host = hosts[r] as string | null;
        const dc = dcs[r] as string | null;
        const inTags =
          tagFilter === undefined ||
          (host !== null &&
            (tagFilter.host as readonly string[]).includes(host) &&
            (tagFilter.dc === undefined || (dc !== null && tagFilter.dc.includes(dc))));
        return inTime && inTags ? [r] : [];
      });
      expect(kept).toEqual(expected);
    }
    // Both ways of finding the runs were taken.
    expect(lookedUp).toBeGreaterThan(50);
    expect(tested).toBeGreaterThan(50);
  });
});

describe("series runs ruled out by value comparisons", () => {
  const OPS: ReadonlyArray<ValueComparison["op"]> = ["=", "<", "<=", ">", ">="];
  const meets = (v: number, op: ValueComparison["op"], value: number) =>
    op === "="
      ? v === value
      : op === "<"
        ? v < value
        : op === "<="
          ? v <= value
          : op === ">"
            ? v > value
            : v >= value;

  it("rejects a run only when none of its rows meets every comparison, nulls and NaN meeting none", () => {
    const random = lcgRandom(11);
    let rejected = 0;
    for (let round = 0; round < 300; round++) {
      const sizes = Array.from({ length: 1 + Math.floor(random() * 6) }, () => 1 + Math.floor(random() * 5));
      const starts = Uint32Array.from([
        0,
        ...sizes.map((_, i) => sizes.slice(0, i + 1).reduce((a, b) => a + b)),
      ]);
      const n = starts[starts.length - 1] as number;
      const cells = Array.from({ length: n }, () => {
        const p = random();
        return p < 0.15 ? null : p < 0.25 ? NaN : Math.floor(random() * 20) - 5;
      });
      const column: Column = {
        type: DataType.Double,
        values: Float64Array.from(cells, (v) => v ?? 0),
        validity: cells.includes(null) ? Uint8Array.from(cells, (v) => (v === null ? 0 : 1)) : null,
      };
      const comparisons: ValueComparison[] = Array.from({ length: 1 + Math.floor(random() * 2) }, () => ({
        column: "x",
        op: OPS[Math.floor(random() * OPS.length)] as ValueComparison["op"],
        value: random() < 0.1 ? NaN : Math.floor(random() * 20) - 5,
      }));
      const runs = new SeriesRuns(starts);
      const mayPass = runsMayPass(runs, comparisons, () => column);
      expect(mayPass).toBeDefined();
      for (let run = 0; run < runs.count; run++) {
        const rows = cells.slice(starts[run], starts[run + 1]);
        const some = rows.some(
          (v) => v !== null && comparisons.every(({ op, value }) => meets(v, op, value)),
        );
        if (mayPass?.(run) === false) {
          rejected++;
          expect(some, `round ${round} run ${run}`).toBe(false);
        }
        // A single ordering comparison is decided exactly by the bounds (= only where no value lies between).
        if (comparisons.length === 1 && comparisons[0]?.op !== "=")
          expect(mayPass?.(run), `round ${round} run ${run}`).toBe(some);
      }
    }
    expect(rejected).toBeGreaterThan(100);
  });

  it("knows nothing of columns that do not hold numbers, and leaves out the runs it rejects", () => {
    const runs = new SeriesRuns(Uint32Array.from([0, 2, 4]));
    const strings = stringColumn(["a", "a", "b", "b"]);
    expect(runsMayPass(runs, [{ column: "s", op: ">", value: 1 }], () => strings)).toBeUndefined();
    const x: Column = { type: DataType.Double, values: Float64Array.from([1, 2, 8, 9]), validity: null };
    const mayPass = runsMayPass(runs, [{ column: "x", op: ">", value: 5 }], () => x);
    const ts = Float64Array.from([1, 2, 1, 2]);
    expect(matchingRanges(runs, ts, undefined, [], mayPass)).toEqual([2, 4]);
  });
});
