/**
 * Aggregation by the series runs a scan marks on its batches (ColumnBatch.seriesRuns) gives the
 * groups and the results, to the bit, of the row-by-row ways: random series-sorted data with NULL
 * tags, several series per tag value, equal timestamps, timestamps far from the epoch and before
 * it, runs split across batches and cut finer than the series. And the batch functions that keep
 * the runs keep them true.
 */
import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import {
  seriesRunsOfRanges,
  seriesRunsOfRows,
  sliceRows,
  takeRanges,
  takeRows,
  viewRows,
  type ColumnBatch,
} from "../../src/batch/column-batch.js";
import { createAccumulator, type GroupRuns } from "../../src/query/accumulators.js";
import { computeSeriesRuns } from "../../src/sst/series-runs.js";
import type { AggregateFunctionName } from "../../src/query/aggregate-functions.js";
import { GroupKeyTable, type SeriesRunKey } from "../../src/query/operators/group-keys.js";
import {
  dateTrunc,
  dateTruncBucketing,
  timeBucket,
  timeBucketing,
  type TimeBucketing,
} from "../../src/query/time-functions.js";
import { DataType } from "../../src/table/data-type.js";
import { mulberryRandom } from "./random.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2024, 0, 1);

/** Rows sorted by series then time, as an SST row group holds them, with the series' first rows. */
interface SeriesData {
  readonly n: number;
  readonly ts: Float64Array;
  readonly host: Column;
  readonly region: Column;
  readonly value: Column;
  /** Row where each series starts. */
  readonly starts: number[];
}

function seriesData(random: () => number, seriesCount: number): SeriesData {
  const ts: number[] = [];
  const hosts: string[] = [];
  const hostValid: number[] = [];
  const regions: string[] = [];
  const regionValid: number[] = [];
  const starts: number[] = [];
  for (let s = 0; s < seriesCount; s++) {
    starts.push(ts.length);
    // Few tag values, so that several series share one, and adjacent series often do.
    const hostNull = random() < 0.1;
    const host = `h${Math.floor(random() * 4)}`;
    const regionNull = random() < 0.2;
    const region = `r${Math.floor(random() * 2)}`;
    const far = random() < 0.1;
    let t = far
      ? (random() < 0.5 ? -1 : 1) * (2 ** 52 + Math.floor(random() * 2 ** 40))
      : T0 + Math.floor((random() - 0.6) * 60 * DAY);
    // Half the series on whole minutes with regular steps: rows fall on bucket edges exactly.
    const regular = random() < 0.5;
    if (regular) t -= t % MINUTE;
    const points = 1 + Math.floor(random() * (random() < 0.3 ? 5 : 400));
    const step = [1000, 10_000, 7 * MINUTE, 3 * HOUR][Math.floor(random() * 4)] as number;
    for (let p = 0; p < points; p++) {
      ts.push(t);
      hosts.push(hostNull ? "" : host);
      hostValid.push(hostNull ? 0 : 1);
      regions.push(regionNull ? "" : region);
      regionValid.push(regionNull ? 0 : 1);
      // Equal timestamps now and then (APPEND tables), jumps across several buckets too.
      if (random() < 0.9)
        t += random() < 0.05 ? 40 * step : regular ? step : step + Math.floor(random() * step);
    }
  }
  const n = ts.length;
  const values = new Float64Array(n);
  const valueValid = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    const r = random();
    values[i] = r < 0.03 ? NaN : r < 0.06 ? -0 : r < 0.09 ? 0 : Math.round(r * 1000) / 8;
    if (random() < 0.05) valueValid[i] = 0;
  }
  return {
    n,
    ts: Float64Array.from(ts),
    host: { type: DataType.String, values: hosts, validity: Uint8Array.from(hostValid) },
    region: { type: DataType.String, values: regions, validity: Uint8Array.from(regionValid) },
    value: { type: DataType.Double, values, validity: valueValid },
    starts,
  };
}

const sliceColumn = (column: Column, start: number, end: number): Column => ({
  type: column.type,
  values: Array.isArray(column.values)
    ? column.values.slice(start, end)
    : (column.values as Float64Array).subarray(start, end),
  validity: column.validity === null ? null : column.validity.subarray(start, end),
});

/** The run starts of rows [start, end): the series starts inside, and 0; some runs cut further. */
function runsOf(data: SeriesData, start: number, end: number, random: () => number): Uint32Array {
  const starts = new Set<number>([0]);
  for (const s of data.starts) if (s > start && s < end) starts.add(s - start);
  // Runs cut inside a series are allowed (a scan's ranges do that): still one series each.
  for (let i = 1; i < end - start; i++) if (random() < 0.002) starts.add(i);
  return Uint32Array.from([...starts].sort((a, b) => a - b));
}

interface Layout {
  readonly name: string;
  readonly keys: readonly ("host" | "region" | "bucket" | "bucket2")[];
}

const LAYOUTS: Layout[] = [
  { name: "bucket", keys: ["bucket"] },
  { name: "host", keys: ["host"] },
  { name: "bucket, host", keys: ["bucket", "host"] },
  { name: "host, bucket", keys: ["host", "bucket"] },
  { name: "region, host, bucket", keys: ["region", "host", "bucket"] },
  { name: "bucket, host, bucket2", keys: ["bucket", "host", "bucket2"] },
];

/** Timestamps stay within Date's range (about 8.64e15), so calendar buckets apply to all. */
interface Bucketed {
  readonly bucketing: TimeBucketing;
  readonly materialise: (ts: Column, n: number) => Column;
}

const BUCKETINGS: Bucketed[] = [
  ...(
    [
      ["PT1M", MINUTE],
      ["PT7S", 7000],
      ["PT1H", HOUR],
    ] as const
  ).map(([text, ms]) => ({
    bucketing: timeBucketing(text, ms),
    materialise: (ts: Column, n: number) => timeBucket(ts, ms, n),
  })),
  {
    bucketing: dateTruncBucketing("week"),
    materialise: (ts, n) => dateTrunc(ts, "week", n),
  },
  {
    bucketing: dateTruncBucketing("month"),
    materialise: (ts, n) => dateTrunc(ts, "month", n),
  },
];
const SECOND_BUCKETING = dateTruncBucketing("day");

const sameValues = (a: ArrayLike<unknown>, b: ArrayLike<unknown>) =>
  a.length === b.length && Array.from(a).every((x, i) => Object.is(x, b[i]));

function expand(runs: GroupRuns, n: number): number[] {
  const ids = new Int32Array(n);
  let start = 0;
  for (let r = 0; r < runs.count; r++) {
    const end = runs.ends[r] as number;
    ids.fill(runs.groups[r] as number, start, end);
    start = end;
  }
  expect(start).toBe(n);
  return [...ids];
}

const AGGREGATES: AggregateFunctionName[] = ["count", "sum", "avg", "min", "max", "first", "last"];

describe("GroupKeyTable.assignSeriesRuns", () => {
  it.each(LAYOUTS)("$name: the groups, group order and aggregates of the row-by-row ways", ({ keys }) => {
    for (const [b, { bucketing, materialise }] of BUCKETINGS.entries()) {
      const random = mulberryRandom(31 + b);
      const data = seriesData(random, 120);
      const bucketings = keys.map((k) =>
        k === "bucket" ? bucketing : k === "bucket2" ? SECOND_BUCKETING : undefined,
      );
      const kinds: SeriesRunKey[] = keys.map((k) => (k === "host" || k === "region" ? "tag" : "bucket"));
      const types = keys.map((k) => (k === "host" || k === "region" ? DataType.String : DataType.Timestamp));
      const reference = new GroupKeyTable(types);
      const rowByRow = new GroupKeyTable(types, bucketings);
      const bySeries = new GroupKeyTable(types, bucketings);
      const byRows = AGGREGATES.map((fn) => createAccumulator(fn, false, true, DataType.Double));
      const byRuns = AGGREGATES.map((fn) => createAccumulator(fn, false, true, DataType.Double));
      let seriesRunsTaken = 0;
      // Batches cut at random rows: series (and runs) continue from one batch to the next.
      for (let start = 0; start < data.n;) {
        const end = Math.min(data.n, start + 1 + Math.floor(random() * 900));
        const n = end - start;
        const ts: Column = {
          type: DataType.Timestamp,
          values: data.ts.subarray(start, end),
          validity: null,
        };
        const columnOf = (k: string): Column =>
          k === "host"
            ? sliceColumn(data.host, start, end)
            : k === "region"
              ? sliceColumn(data.region, start, end)
              : ts;
        const raw = keys.map(columnOf);
        const materialised = keys.map((k) =>
          k === "bucket" ? materialise(ts, n) : k === "bucket2" ? dateTrunc(ts, "day", n) : columnOf(k),
        );
        const expected = [...reference.assign(materialised, n)];
        expect([...rowByRow.assign(raw, n)], bucketing.name).toEqual(expected);
        const runs = bySeries.assignSeriesRuns(raw, n, runsOf(data, start, end, random), kinds);
        expect(runs, bucketing.name).toBeDefined();
        seriesRunsTaken++;
        expect(expand(runs as GroupRuns, n), bucketing.name).toEqual(expected);
        expect(bySeries.numGroups).toBe(reference.numGroups);
        const args = [sliceColumn(data.value, start, end), ts];
        const ids = Int32Array.from(expected);
        for (const [i, acc] of byRows.entries()) {
          acc.grow(reference.numGroups);
          acc.update(ids, args, n);
          (byRuns[i] as (typeof byRuns)[number]).grow(reference.numGroups);
          byRuns[i]?.updateRuns?.(runs as GroupRuns, args);
        }
        start = end;
      }
      expect(seriesRunsTaken).toBeGreaterThan(1);
      const expectedKeys = reference.keyColumns();
      bySeries.keyColumns().forEach((column, k) => {
        const want = expectedKeys[k] as Column;
        expect(sameValues(column.values, want.values), `${bucketing.name} key ${k}`).toBe(true);
        expect(column.validity).toEqual(want.validity);
      });
      for (const [i, fn] of AGGREGATES.entries()) {
        const want = (byRows[i] as (typeof byRows)[number]).finish(reference.numGroups);
        const got = (byRuns[i] as (typeof byRuns)[number]).finish(reference.numGroups);
        expect(sameValues(got.values, want.values), `${bucketing.name} ${fn}`).toBe(true);
        expect(got.validity, `${bucketing.name} ${fn}`).toEqual(want.validity);
      }
    }
  });

  it("joins adjacent runs of one group, as the row-by-row runs do", () => {
    const table = new GroupKeyTable(
      [DataType.String, DataType.Timestamp],
      [undefined, timeBucketing("PT1H", HOUR)],
    );
    // Two series of host a (same hour), then one of b.
    const host: Column = { type: DataType.String, values: ["a", "a", "a", "a", "b"], validity: null };
    const ts: Column = {
      type: DataType.Timestamp,
      values: Float64Array.of(T0, T0 + 1, T0, T0 + HOUR, T0 + HOUR),
      validity: null,
    };
    const runs = table.assignSeriesRuns([host, ts], 5, Uint32Array.of(0, 2, 4), [
      "tag",
      "bucket",
    ]) as GroupRuns;
    expect([...runs.groups.subarray(0, runs.count)]).toEqual([0, 1, 2]);
    expect([...runs.ends.subarray(0, runs.count)]).toEqual([3, 4, 5]);
  });

  it("declines null timestamps, creating no group", () => {
    const table = new GroupKeyTable([DataType.Timestamp], [timeBucketing("PT1H", HOUR)]);
    const ts: Column = {
      type: DataType.Timestamp,
      values: Float64Array.of(T0, T0),
      validity: Uint8Array.of(1, 0),
    };
    expect(table.assignSeriesRuns([ts], 2, Uint32Array.of(0), ["bucket"])).toBeUndefined();
    expect(table.numGroups).toBe(0);
  });
});

/** Whether `batch.seriesRuns` holds: from 0, ascending, in range, tags one value and times rising per run. */
function runsHold(batch: ColumnBatch): boolean {
  const runs = batch.seriesRuns;
  if (runs === undefined) return true;
  if (batch.numRows > 0 && runs[0] !== 0) return false;
  const [host, region, ts] = batch.columns as [Column, Column, Column];
  const times = ts.values as Float64Array;
  for (let r = 0; r < runs.length; r++) {
    const first = runs[r] as number;
    const end = r + 1 < runs.length ? (runs[r + 1] as number) : batch.numRows;
    if (first >= end) return false;
    for (let i = first + 1; i < end; i++) {
      for (const tag of [host, region]) {
        if ((tag.values as string[])[i] !== (tag.values as string[])[first]) return false;
        if (tag.validity?.[i] !== tag.validity?.[first]) return false;
      }
      if ((times[i] as number) < (times[i - 1] as number)) return false;
    }
  }
  return true;
}

describe("batch functions keep series runs true", () => {
  const random = mulberryRandom(99);
  const data = seriesData(random, 60);
  const batch: ColumnBatch = {
    names: ["host", "region", "ts"],
    columns: [data.host, data.region, { type: DataType.Timestamp, values: data.ts, validity: null }],
    numRows: data.n,
    seriesRuns: Uint32Array.from(data.starts),
  };
  const randomRange = (): [number, number] => {
    const a = Math.floor(random() * data.n);
    const b = Math.floor(random() * data.n);
    return [Math.min(a, b), Math.max(a, b) + 1];
  };

  it("holds for the data itself", () => {
    expect(runsHold(batch)).toBe(true);
  });

  it("rebases runs in views and slices", () => {
    for (let i = 0; i < 200; i++) {
      const [start, end] = randomRange();
      for (const part of [viewRows(batch, start, end), sliceRows(batch, start, end)]) {
        expect(part.seriesRuns).toBeDefined();
        expect(runsHold(part)).toBe(true);
        // Every series start inside the range is still a run start.
        const inside = data.starts.filter((s) => s > start && s < end).map((s) => s - start);
        for (const s of inside) expect(part.seriesRuns?.includes(s)).toBe(true);
      }
    }
  });

  it("starts a run at every range of a range copy", () => {
    for (let i = 0; i < 200; i++) {
      const ranges: number[] = [];
      let at = 0;
      while (at < data.n && ranges.length < 12) {
        const start = at + Math.floor(random() * 300);
        const end = Math.min(data.n, start + Math.floor(random() * 300));
        if (end > start) ranges.push(start, end);
        at = end + Math.floor(random() * 3);
      }
      if (ranges.length === 0) continue;
      const part = takeRanges(batch, ranges);
      expect(runsHold(part)).toBe(true);
      expect(part.seriesRuns).toEqual(seriesRunsOfRanges(batch.seriesRuns as Uint32Array, ranges));
    }
  });

  it("keeps runs through ascending gathers and drops them otherwise", () => {
    for (let i = 0; i < 200; i++) {
      const indices = Uint32Array.from({ length: data.n }, (_, r) => r).filter(() => random() < 0.3);
      const part = takeRows(batch, indices);
      expect(part.seriesRuns).toBeDefined();
      expect(runsHold(part)).toBe(true);
    }
    const reversed = Uint32Array.from({ length: data.n }, (_, r) => data.n - 1 - r);
    expect(takeRows(batch, reversed).seriesRuns).toBeUndefined();
    expect(seriesRunsOfRows(Uint32Array.of(0, 5), Uint32Array.of(1, 6, 2))).toBeUndefined();
    expect([...(seriesRunsOfRows(Uint32Array.of(0, 5), Uint32Array.of(1, 1, 4, 5, 9)) ?? [])]).toEqual([
      0, 3,
    ]);
  });
});

describe("computeSeriesRuns", () => {
  const tsid: Column = { type: DataType.UInt64, values: BigUint64Array.of(1n, 1n, 2n, 2n), validity: null };
  const ts = (...values: number[]): Column => ({
    type: DataType.Timestamp,
    values: Float64Array.from(values),
    validity: null,
  });

  it("finds the runs of rows sorted by tsid then time", () => {
    expect([...(computeSeriesRuns(tsid, ts(5, 5, 1, 2), 4)?.starts ?? [])]).toEqual([0, 2, 4]);
  });

  it("refuses NaN timestamps, which no order of runs holds", () => {
    expect(computeSeriesRuns(tsid, ts(5, NaN, 1, 2), 4)).toBeUndefined();
    expect(computeSeriesRuns(tsid, ts(NaN, 5, 1, 2), 4)).toBeUndefined();
  });
});
