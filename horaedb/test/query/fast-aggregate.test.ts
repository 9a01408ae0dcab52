/**
 * The fast paths of hash aggregation give the results of the row-at-a-time ones exactly: group
 * ids from time-bucket keys computed from the timestamps and from runs of rows equal to those of
 * materialised bucket columns, and accumulators folding runs equal to the bit (-0, NaN, ties of
 * first/last included) to row-at-a-time updates.
 */
import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import { createAccumulator, GroupRunFinder, type GroupRuns } from "../../src/query/accumulators.js";
import type { AggregateFunctionName } from "../../src/query/aggregate-functions.js";
import { GroupKeyTable } from "../../src/query/operators/group-keys.js";
import {
  dateTrunc,
  dateTruncBucketing,
  timeBucket,
  timeBucketing,
  type DateTruncUnit,
  type TimeBucketing,
} from "../../src/query/time-functions.js";
import { DataType } from "../../src/table/data-type.js";
import { mulberryRandom } from "./random.js";

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 1);

/** A batch shaped like a scan's: series after series, times rising inside a series, with oddities. */
function randomBatch(random: () => number, n: number) {
  const ts = new Float64Array(n);
  const tags: string[] = [];
  const tagValid = new Uint8Array(n).fill(1);
  const numbers = new Float64Array(n);
  const values = new Float64Array(n);
  const valueValid = new Uint8Array(n).fill(1);
  const names = ["a", "b", "c"].map((s) => s.repeat(2));
  let series = 0;
  let t = T0 + Math.floor((random() - 0.5) * 400 * 24 * 60 * MINUTE);
  for (let i = 0; i < n; i++) {
    if (random() < 0.02) {
      // A new series: back in time, another tag.
      series = Math.floor(random() * names.length);
      t = T0 + Math.floor((random() - 0.5) * 400 * 24 * 60 * MINUTE);
    }
    t += random() < 0.1 ? Math.floor(random() * 40 * 24 * 60 * MINUTE) : Math.floor(random() * 20_000);
    // Now and then before the epoch, where flooring rounds toward -inf, or on an equal time.
    ts[i] = random() < 0.01 ? -t / 1000 - (t % 7) : random() < 0.05 && i > 0 ? (ts[i - 1] as number) : t;
    ts[i] = Math.round(ts[i] as number);
    tags.push(names[series] as string);
    if (random() < 0.01) tagValid[i] = 0;
    const r = random();
    numbers[i] = r < 0.05 ? NaN : r < 0.1 ? -0 : r < 0.15 ? 0 : Math.floor(r * 4);
    values[i] = r < 0.03 ? NaN : r < 0.06 ? -0 : r < 0.09 ? 0 : Math.round(r * 1000) / 8;
    if (random() < 0.05) valueValid[i] = 0;
  }
  return {
    ts: { type: DataType.Timestamp, values: ts, validity: null } satisfies Column,
    tag: { type: DataType.String, values: tags, validity: tagValid } satisfies Column,
    number: { type: DataType.Double, values: numbers, validity: null } satisfies Column,
    value: { type: DataType.Double, values, validity: valueValid } satisfies Column,
  };
}

interface Bucketed {
  readonly bucketing: TimeBucketing;
  /** The column the SQL function computes. */
  readonly materialise: (ts: Column, n: number) => Column;
}

const BUCKETINGS: Bucketed[] = [
  ...[
    ["PT1M", MINUTE],
    ["PT7S", 7000],
    ["PT1H", 60 * MINUTE],
    ["P1W", 7 * 24 * 60 * MINUTE],
  ].map(([text, ms]): Bucketed => ({
    bucketing: timeBucketing(text as string, ms as number),
    materialise: (ts, n) => timeBucket(ts, ms as number, n),
  })),
  ...(["second", "hour", "day", "week", "month", "quarter", "year"] as DateTruncUnit[]).map(
    (unit): Bucketed => ({
      bucketing: dateTruncBucketing(unit),
      materialise: (ts, n) => dateTrunc(ts, unit, n),
    }),
  ),
];

const sameValues = (a: ArrayLike<unknown>, b: ArrayLike<unknown>) =>
  a.length === b.length && Array.from(a).every((x, i) => Object.is(x, b[i]));

/** The ids of runs, row by row. */
function expand(runs: GroupRuns, n: number): Int32Array {
  const ids = new Int32Array(n);
  let start = 0;
  for (let r = 0; r < runs.count; r++) {
    const end = runs.ends[r] as number;
    ids.fill(runs.groups[r] as number, start, end);
    start = end;
  }
  return ids;
}

describe("time bucketing", () => {
  it("computes the bucket start time_bucket and date_trunc compute, and buckets partition time", () => {
    const random = mulberryRandom(7);
    const n = 2000;
    const { ts } = randomBatch(random, n);
    for (const { bucketing, materialise } of BUCKETINGS) {
      const expected = materialise(ts, n).values as Float64Array;
      for (let i = 0; i < n; i++) {
        const t = (ts.values as Float64Array)[i] as number;
        const start = bucketing.start(t);
        expect(Object.is(start, expected[i]), `${bucketing.name} of ${t}`).toBe(true);
        const next = bucketing.next(start);
        expect(start <= t && t < next, `${bucketing.name}: ${t} in [${start}, ${next})`).toBe(true);
        expect(bucketing.start(next)).toBe(next);
        expect(bucketing.start(next - 1)).toBe(start);
      }
    }
  });
});

describe("GroupKeyTable fast paths", () => {
  const layouts: { name: string; keys: ("bucket" | "tag" | "number")[] }[] = [
    { name: "bucket", keys: ["bucket"] },
    { name: "tag", keys: ["tag"] },
    { name: "number", keys: ["number"] },
    { name: "bucket, tag", keys: ["bucket", "tag"] },
    { name: "tag, bucket, number", keys: ["tag", "bucket", "number"] },
  ];

  it.each(layouts)(
    "$name: bucket keys from timestamps and runs give the groups of materialised keys",
    ({ keys }) => {
      for (const { bucketing, materialise } of BUCKETINGS) {
        const random = mulberryRandom(11);
        const types = keys.map((k) =>
          k === "bucket" ? DataType.Timestamp : k === "tag" ? DataType.String : DataType.Double,
        );
        const reference = new GroupKeyTable(types);
        const fast = new GroupKeyTable(
          types,
          keys.map((k) => (k === "bucket" ? bucketing : undefined)),
        );
        const perRow = new GroupKeyTable(
          types,
          keys.map((k) => (k === "bucket" ? bucketing : undefined)),
        );
        let runsTaken = 0;
        for (let b = 0; b < 6; b++) {
          const n = 1 + Math.floor(random() * 3000);
          const batch = randomBatch(random, n);
          const raw = keys.map((k) => (k === "bucket" ? batch.ts : k === "tag" ? batch.tag : batch.number));
          const materialised = keys.map((k) =>
            k === "bucket" ? materialise(batch.ts, n) : k === "tag" ? batch.tag : batch.number,
          );
          const expected = Int32Array.from(reference.assign(materialised, n));
          expect([...perRow.assign(raw, n)], bucketing.name).toEqual([...expected]);
          // Minimum run length 1, so the run path is always taken here.
          const runs = fast.assignRuns(raw, n, 1);
          expect(runs, bucketing.name).toBeDefined();
          runsTaken++;
          expect([...expand(runs as GroupRuns, n)], bucketing.name).toEqual([...expected]);
          expect(fast.numGroups).toBe(reference.numGroups);
        }
        expect(runsTaken).toBeGreaterThan(0);
        const expectedKeys = reference.keyColumns();
        for (const table of [fast, perRow]) {
          table.keyColumns().forEach((column, k) => {
            expect(sameValues(column.values, (expectedKeys[k] as Column).values)).toBe(true);
            expect(column.validity).toEqual((expectedKeys[k] as Column).validity);
          });
        }
      }
    },
  );

  it("declines runs shorter than asked for, creating no group", () => {
    const table = new GroupKeyTable([DataType.String]);
    const keys: Column = { type: DataType.String, values: ["a", "b", "a", "b"], validity: null };
    expect(table.assignRuns([keys], 4, 2)).toBeUndefined();
    expect(table.numGroups).toBe(0);
    const runs = table.assignRuns([{ ...keys, values: ["a", "a", "b", "b"] }], 4, 2) as GroupRuns;
    expect([...runs.groups.subarray(0, runs.count)]).toEqual([0, 1]);
    expect([...runs.ends.subarray(0, runs.count)]).toEqual([2, 4]);
  });
});

describe("accumulators over runs", () => {
  const cases: [AggregateFunctionName, boolean][] = [
    ["count", false],
    ["count", true],
    ["sum", true],
    ["avg", true],
    ["min", true],
    ["max", true],
    ["first", true],
    ["last", true],
  ];

  it.each(cases)("%s (argument: %s) over runs equals row-at-a-time, to the bit", (fn, hasArgument) => {
    const random = mulberryRandom(5);
    const byRows = createAccumulator(
      fn,
      false,
      hasArgument,
      fn === "count" ? DataType.Int64 : DataType.Double,
    );
    const byRuns = createAccumulator(
      fn,
      false,
      hasArgument,
      fn === "count" ? DataType.Int64 : DataType.Double,
    );
    expect(byRuns.acceptsRuns).toBe(true);
    const table = new GroupKeyTable(
      [DataType.String, DataType.Timestamp],
      [undefined, timeBucketing("PT1M", MINUTE)],
    );
    const finder = new GroupRunFinder();
    let numGroups = 0;
    for (let b = 0; b < 8; b++) {
      const n = 1 + Math.floor(random() * 4000);
      const batch = randomBatch(random, n);
      const ids = Int32Array.from(table.assign([batch.tag, batch.ts], n));
      numGroups = table.numGroups;
      const args =
        fn === "first" || fn === "last" ? [batch.value, batch.ts] : hasArgument ? [batch.value] : [];
      byRows.grow(numGroups);
      byRuns.grow(numGroups);
      byRows.update(ids, args, n);
      const runs = finder.find(ids, n, 1) as GroupRuns;
      byRuns.updateRuns?.(runs, args);
    }
    const expected = byRows.finish(numGroups);
    const actual = byRuns.finish(numGroups);
    expect(sameValues(actual.values, expected.values)).toBe(true);
    expect(actual.validity).toEqual(expected.validity);
  });
});
