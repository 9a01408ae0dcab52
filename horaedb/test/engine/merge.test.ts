/**
 * The k-way merge of sorted sources (engine/merge.ts) against two references: all rows sorted
 * together and deduplicated by key with source priority (written out plainly here), and the
 * scratch memtable set scans used to merge through. And the per-series walk for lastPerSeries
 * against a full merge followed by last() per series.
 */
import { describe, expect, it } from "vitest";
import { cellAt, type Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import {
  groupByTsid,
  lastRowsOfSeries,
  mergeSortedSources,
  type ColumnSpec,
  type SeriesBatch,
  type SeriesSegment,
  type SeriesSource,
  type SortedSource,
} from "../../src/engine/merge.js";
import { MemtableSet } from "../../src/memtable/index.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";
import { UpdateMode } from "../../src/table/options.js";
import { TableSchema } from "../../src/table/schema.js";
import { mulberry32 } from "../../src/testing/tsbs.js";

type Row = CellValue[];

interface KeyColumn extends ColumnSpec {
  /** Values drawn for the column: few, so keys collide across sources. */
  readonly domain: readonly CellValue[];
}

interface KeyCase {
  readonly name: string;
  readonly key: readonly KeyColumn[];
  /** Undefined: the default key (tsid, ts). */
  readonly primaryKey: string[] | undefined;
}

const U64_MAX = 2n ** 64n - 1n;
const TS: KeyColumn = { name: "ts", type: DataType.Timestamp, domain: [0, 1, 2, 3, 5, 8, 13, 21] };

const KEY_CASES: readonly KeyCase[] = [
  {
    name: "(tsid, ts), tsids above 2^63",
    key: [{ name: "tsid", type: DataType.UInt64, domain: [0n, 7n, 2n ** 32n, 2n ** 63n, U64_MAX - 1n] }, TS],
    primaryKey: undefined,
  },
  {
    name: "(string, ts), code point order",
    key: [{ name: "host", type: DataType.String, domain: ["a", "ab", "b", "é", "\uE000", "\u{1F600}"] }, TS],
    primaryKey: ["host", "ts"],
  },
  {
    name: "(int64, boolean, ts), negative int64",
    key: [
      { name: "k64", type: DataType.Int64, domain: [-(2n ** 40n), -1n, 0n, 3n] },
      { name: "flag", type: DataType.Boolean, domain: [false, true] },
      TS,
    ],
    primaryKey: ["k64", "flag", "ts"],
  },
  {
    name: "(double, int32, ts), NaN and -0",
    key: [
      { name: "d", type: DataType.Double, domain: [-1.5, -0, 0, 2, Infinity, NaN] },
      { name: "i", type: DataType.Int32, domain: [-3, 0, 7] },
      TS,
    ],
    primaryKey: ["d", "i", "ts"],
  },
  {
    name: "(ts, float)",
    key: [TS, { name: "f", type: DataType.Float, domain: [-2.5, 0.5, 1] }],
    primaryKey: ["ts", "f"],
  },
];

const VALUES: readonly ColumnSpec[] = [
  { name: "v", type: DataType.Double },
  { name: "s", type: DataType.String },
  { name: "n", type: DataType.Int64 },
];

/** A column of `type` holding `cells` (null where the cell is null). */
function columnOf(type: DataType, cells: readonly CellValue[]): Column {
  const n = cells.length;
  const nulls = cells.map((c) => c === null);
  const validity = nulls.some((x) => x) ? Uint8Array.from(nulls, (x) => (x ? 0 : 1)) : null;
  const or = <T>(c: CellValue, fallback: T): T => (c === null ? fallback : (c as T));
  switch (type) {
    case DataType.Timestamp:
    case DataType.Double:
      return { type, values: Float64Array.from(cells, (c) => or(c, 0)), validity };
    case DataType.Float:
      return { type, values: Float32Array.from(cells, (c) => or(c, 0)), validity };
    case DataType.Int32:
      return { type, values: Int32Array.from(cells, (c) => or(c, 0)), validity };
    case DataType.Int64:
      return { type, values: BigInt64Array.from(cells, (c) => or(c, 0n)), validity };
    case DataType.UInt64:
      return { type, values: BigUint64Array.from(cells, (c) => or(c, 0n)), validity };
    case DataType.Boolean:
      return { type, values: Uint8Array.from(cells, (c) => (c === true ? 1 : 0)), validity };
    case DataType.String:
      return { type, values: cells.map((c) => or(c, "")), validity };
    case DataType.Varbinary:
      return { type, values: Array.from({ length: n }, () => new Uint8Array(0)), validity };
  }
}

function batchOf(columns: readonly ColumnSpec[], rows: readonly Row[]): ColumnBatch {
  return {
    names: columns.map((c) => c.name),
    columns: columns.map((c, i) =>
      columnOf(
        c.type,
        rows.map((r) => r[i] as CellValue),
      ),
    ),
    numRows: rows.length,
  };
}

function rowsOf(batch: ColumnBatch): Row[] {
  return Array.from({ length: batch.numRows }, (_, r) => batch.columns.map((c) => cellAt(c, r)));
}

/** Code points, so that U+E000 sorts below U+1F600 (UTF-16 code units say otherwise). */
function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a, (ch) => ch.codePointAt(0) as number);
  const y = Array.from(b, (ch) => ch.codePointAt(0) as number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  }
  return x.length - y.length;
}

/** The engine's key order, written plainly: NaN last and equal to NaN, -0 equal to 0, false < true. */
function compareCells(a: CellValue, b: CellValue): number {
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return compareCodePoints(a, b);
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  throw new TypeError(`cannot compare ${typeof a} with ${typeof b}`);
}

function compareKeys(keyWidth: number, a: Row, b: Row): number {
  for (let k = 0; k < keyWidth; k++) {
    const c = compareCells(a[k] as CellValue, b[k] as CellValue);
    if (c !== 0) return c;
  }
  return 0;
}

interface TestSource {
  readonly priority: number;
  /** Sorted by key; cut into batches (some empty). */
  readonly batches: readonly ColumnBatch[];
  readonly rows: readonly Row[];
}

/** Rows merged plainly: all sorted by (key, rank by priority, position); OVERWRITE keeps each key's last. */
function referenceMerge(
  keyWidth: number,
  sources: readonly TestSource[],
  overwrite: boolean,
): Array<{ row: Row; source: number; position: number }> {
  const rank = new Map(
    [...sources.entries()]
      .sort(([i, a], [j, b]) => a.priority - b.priority || i - j)
      .map(([source], r) => [source, r]),
  );
  const all = sources.flatMap((s, source) => s.rows.map((row, position) => ({ row, source, position })));
  all.sort(
    (a, b) =>
      compareKeys(keyWidth, a.row, b.row) ||
      (rank.get(a.source) as number) - (rank.get(b.source) as number) ||
      a.position - b.position,
  );
  if (!overwrite) return all;
  return all.filter((r, i) => i + 1 === all.length || compareKeys(keyWidth, r.row, all[i + 1]!.row) !== 0);
}

/** Rows of the scratch memtable set the scan used to merge through. */
function scratchMemtableMerge(
  keyCase: KeyCase,
  columns: readonly ColumnSpec[],
  sources: readonly TestSource[],
  updateMode: UpdateMode,
): Row[] {
  const schema = TableSchema.create({
    timestampColumn: "ts",
    ...(keyCase.primaryKey === undefined ? {} : { primaryKey: keyCase.primaryKey }),
    columns: columns.filter((c) => c.name !== "tsid").map((c) => ({ name: c.name, type: c.type })),
  });
  const scratch = new MemtableSet({ schema, updateMode });
  for (const source of [...sources].sort((a, b) => a.priority - b.priority)) {
    for (const batch of source.batches) if (batch.numRows > 0) scratch.append(batch, source.priority);
  }
  return [...scratch.sortedBatches({ projection: columns.map((c) => c.name) })].flatMap(rowsOf);
}

function cutIntoBatches(
  columns: readonly ColumnSpec[],
  rows: readonly Row[],
  random: () => number,
): ColumnBatch[] {
  const batches: ColumnBatch[] = [];
  let at = 0;
  while (at < rows.length) {
    const size = random() < 0.1 ? 0 : 1 + Math.floor(random() * 6);
    batches.push(batchOf(columns, rows.slice(at, at + size)));
    at += size;
  }
  if (random() < 0.3) batches.push(batchOf(columns, []));
  return batches;
}

function randomSources(
  keyCase: KeyCase,
  columns: readonly ColumnSpec[],
  random: () => number,
  options: { readonly repeatsInSource: boolean },
): TestSource[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const count = 1 + Math.floor(random() * 5);
  const priorities = [1, 2, 2, 5, Number.MAX_SAFE_INTEGER];
  return Array.from({ length: count }, () => {
    const n = Math.floor(random() * 25);
    const rows: Row[] = [];
    const seen = new Set<string>();
    while (rows.length < n) {
      const key = keyCase.key.map((k) => pick(k.domain));
      const id = text(key);
      if (seen.has(id) && !options.repeatsInSource) {
        if (seen.size >= 40) break;
        continue;
      }
      seen.add(id);
      rows.push([
        ...key,
        random() < 0.3 ? null : Math.round(random() * 100) / 4,
        random() < 0.3 ? null : pick(["x", "y", "z"]),
        random() < 0.3 ? null : BigInt(Math.floor(random() * 1000) - 500),
      ]);
    }
    // Stable: repeats of a key keep the order they were drawn in.
    rows.sort((a, b) => compareKeys(keyCase.key.length, a, b));
    return { priority: pick(priorities), rows, batches: cutIntoBatches(columns, rows, random) };
  });
}

async function* yieldAll(batches: readonly ColumnBatch[]): AsyncGenerator<ColumnBatch> {
  for (const batch of batches) {
    await Promise.resolve();
    yield batch;
  }
}

const text = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) =>
    typeof x === "bigint" ? `${x}n` : typeof x === "number" && !Number.isFinite(x) ? String(x) : x,
  );

describe("mergeSortedSources", () => {
  for (const keyCase of KEY_CASES) {
    for (const updateMode of [UpdateMode.Overwrite, UpdateMode.Append]) {
      it(`merges like sorting everything together: ${keyCase.name}, ${updateMode}`, async () => {
        const random = mulberry32(
          KEY_CASES.indexOf(keyCase) * 7 + (updateMode === UpdateMode.Append ? 1 : 0),
        );
        const columns: ColumnSpec[] = [...keyCase.key.map(({ name, type }) => ({ name, type })), ...VALUES];
        let rowsOut = 0;
        for (let round = 0; round < 60; round++) {
          // Sources hold a key once in OVERWRITE tables; repeats are tried in some rounds anyway.
          const repeatsInSource = updateMode === UpdateMode.Append || round % 4 === 3;
          const sources = randomSources(keyCase, columns, random, { repeatsInSource });
          const batchSize = 1 + Math.floor(random() * 12);
          const inputs: SortedSource[] = sources.map((s) => ({
            priority: s.priority,
            batches: yieldAll(s.batches),
          }));
          const out: Row[] = [];
          for await (const batch of mergeSortedSources(inputs, {
            key: keyCase.key.map(({ name, type }) => ({ name, type })),
            columns,
            updateMode,
            batchSize,
          })) {
            expect(batch.numRows).toBeGreaterThan(0);
            expect(batch.numRows).toBeLessThanOrEqual(batchSize);
            expect(batch.names).toEqual(columns.map((c) => c.name));
            out.push(...rowsOf(batch));
          }
          const overwrite = updateMode === UpdateMode.Overwrite;
          const expected = referenceMerge(keyCase.key.length, sources, overwrite).map((r) => r.row);
          expect(out.map(text), `round ${round}`).toEqual(expected.map(text));
          expect(out.map(text), `round ${round}: scratch memtable`).toEqual(
            scratchMemtableMerge(keyCase, columns, sources, updateMode).map(text),
          );
          rowsOut += out.length;
        }
        expect(rowsOut).toBeGreaterThan(200);
      });
    }
  }

  for (const updateMode of [UpdateMode.Overwrite, UpdateMode.Append]) {
    it(`with a predicate, keeps the merged rows that pass it, tested after deduplication: ${updateMode}`, async () => {
      const keyCase = KEY_CASES[0] as KeyCase;
      const random = mulberry32(updateMode === UpdateMode.Append ? 91 : 90);
      const columns: ColumnSpec[] = [...keyCase.key.map(({ name, type }) => ({ name, type })), ...VALUES];
      const v = columns.findIndex((c) => c.name === "v");
      const above = (value: CellValue) => value !== null && (value as number) > 12;
      const passes = (row: Row) => above(row[v] as CellValue);
      const handed: string[][] = [];
      const predicate = {
        columns: ["v"],
        select(batch: ColumnBatch): Uint32Array {
          handed.push([...batch.names]);
          const rows: number[] = [];
          for (let r = 0; r < batch.numRows; r++)
            if (above(cellAt(batch.columns[0] as Column, r))) rows.push(r);
          return Uint32Array.from(rows);
        },
      };
      let dropped = 0;
      for (let round = 0; round < 60; round++) {
        const sources = randomSources(keyCase, columns, random, {
          repeatsInSource: updateMode === UpdateMode.Append,
        });
        const out: Row[] = [];
        for await (const batch of mergeSortedSources(
          sources.map((s) => ({ priority: s.priority, batches: yieldAll(s.batches) })),
          {
            key: keyCase.key.map(({ name, type }) => ({ name, type })),
            columns,
            updateMode,
            batchSize: 1 + Math.floor(random() * 12),
            predicate,
          },
        )) {
          expect(batch.numRows).toBeGreaterThan(0);
          out.push(...rowsOf(batch));
        }
        // Deduplicated first: a key whose kept row fails is left out even if an older row passes.
        const merged = referenceMerge(keyCase.key.length, sources, updateMode === UpdateMode.Overwrite);
        const expected = merged.map((r) => r.row).filter(passes);
        expect(out.map(text), `round ${round}`).toEqual(expected.map(text));
        dropped += merged.length - expected.length;
      }
      expect(dropped).toBeGreaterThan(50);
      // The predicate is handed its own column alone: the others are gathered for passing rows.
      expect(handed.length).toBeGreaterThan(0);
      expect(handed.every((names) => names.length === 1 && names[0] === "v")).toBe(true);
    });
  }

  it("closes the sources it did not read to the end when the merge stops early", async () => {
    const columns: ColumnSpec[] = [
      { name: "ts", type: DataType.Timestamp },
      { name: "v", type: DataType.Double },
    ];
    const closed: number[] = [];
    async function* source(id: number, timestamps: number[]): AsyncGenerator<ColumnBatch> {
      try {
        for (const ts of timestamps) yield await Promise.resolve(batchOf(columns, [[ts, id]]));
      } finally {
        closed.push(id);
      }
    }
    const merge = mergeSortedSources(
      [
        { priority: 1, batches: source(1, [1, 3, 5]) },
        { priority: 2, batches: source(2, [2, 4, 6]) },
      ],
      { key: [columns[0] as ColumnSpec], columns, updateMode: UpdateMode.Overwrite, batchSize: 2 },
    );
    const first = await merge.next();
    expect(first.done).toBe(false);
    expect(rowsOf(first.value as ColumnBatch)).toEqual([
      [1, 1],
      [2, 2],
    ]);
    await merge.return(undefined);
    expect(closed.sort()).toEqual([1, 2]);
  });
});

describe("lastRowsOfSeries", () => {
  /** A series per tsid, the series tag a function of it; tsids spread over the unsigned range. */
  const TSIDS = [3n, 2n ** 31n, 2n ** 32n + 5n, 2n ** 63n + 1n, U64_MAX];
  const seriesOfTsid = (tsid: bigint) => `s${TSIDS.indexOf(tsid) % 3}`;
  const COLUMNS: ColumnSpec[] = [
    { name: "tsid", type: DataType.UInt64 },
    { name: "ts", type: DataType.Timestamp },
    { name: "x", type: DataType.Double },
    { name: "y", type: DataType.Int64 },
  ];
  const WANTED = ["x", "y"];

  interface SeriesCase {
    readonly sources: TestSource[];
    readonly seriesSources: SeriesSource[];
    readonly walkBatches: SeriesBatch[][];
  }

  /** Segments of each batch's tsid runs, as the scan builds them. */
  function seriesCase(sources: TestSource[], newestOnly: readonly boolean[]): SeriesCase {
    const seriesSources = sources.map((source, s): SeriesSource => {
      const segments: SeriesSegment[] = [];
      source.batches.forEach((batch, b) => {
        const tsids = (batch.columns[0] as Column).values as BigUint64Array;
        for (let start = 0; start < batch.numRows;) {
          let end = start + 1;
          while (end < batch.numRows && tsids[end] === tsids[start]) end++;
          const tsid = tsids[start] as bigint;
          segments.push({
            tsidHigh: Number(tsid >> 32n),
            tsidLow: Number(tsid & 0xffffffffn),
            batch: b,
            start,
            end,
            series: seriesOfTsid(tsid),
          });
          start = end;
        }
      });
      return { priority: source.priority, segments, newestOnly: newestOnly[s] ?? false };
    });
    const walkBatches = sources.map((source) =>
      source.batches.map((batch): SeriesBatch => ({
        timestamps: (batch.columns[1] as Column).values as Float64Array,
        validity: [batch.columns[2] as Column, batch.columns[3] as Column].map((c) => c.validity),
      })),
    );
    return { sources, seriesSources, walkBatches };
  }

  /** The rows of each series' last non-null x and y and its last row, after a full merge (last() semantics). */
  function referenceLast(
    sources: readonly TestSource[],
    foundBefore: ReadonlyMap<string, Uint8Array>,
  ): { picks: string[]; found: Map<string, number[]> } {
    const merged = referenceMerge(2, sources, true);
    const best = new Map<string, Array<number | undefined>>();
    merged.forEach(({ row }, i) => {
      const series = seriesOfTsid(row[0] as bigint);
      let picks = best.get(series);
      if (picks === undefined) {
        picks = [undefined, undefined, undefined];
        best.set(series, picks);
      }
      const ts = row[1] as number;
      for (let c = 0; c <= WANTED.length; c++) {
        if (foundBefore.get(series)?.[c] === 1) continue;
        if (c < WANTED.length && row[2 + c] === null) continue;
        const current = picks[c];
        if (current === undefined || ts >= (merged[current]!.row[1] as number)) picks[c] = i;
      }
    });
    const chosen = new Set<number>();
    const found = new Map<string, number[]>();
    for (const [series, picks] of best) {
      const columns = picks.flatMap((p, c) => (p === undefined ? [] : [c]));
      if (columns.length > 0) found.set(series, columns);
      for (const p of picks) if (p !== undefined) chosen.add(p);
    }
    const picks = [...chosen].sort((a, b) => a - b).map((i) => `${merged[i]!.source}:${merged[i]!.position}`);
    return { picks, found };
  }

  function tsidSources(random: () => number, repeatsInSource: boolean): TestSource[] {
    const keyCase: KeyCase = {
      name: "tsid",
      key: [{ name: "tsid", type: DataType.UInt64, domain: TSIDS }, TS],
      primaryKey: undefined,
    };
    return randomSources(keyCase, [...COLUMNS.slice(0, 2), ...VALUES], random, { repeatsInSource }).map(
      (source) => {
        // Only x (nullable double) and y (nullable int64) as fields.
        const rows = source.rows.map((r) => [r[0], r[1], r[2], r[4]] as Row);
        return { ...source, rows, batches: cutIntoBatches(COLUMNS, rows, random) };
      },
    );
  }

  const positionOf = (source: TestSource, batch: number, row: number) =>
    source.batches.slice(0, batch).reduce((n, b) => n + b.numRows, 0) + row;

  it("picks the rows a full merge and last() per series pick, in merge order", () => {
    const random = mulberry32(99);
    let picked = 0;
    for (let round = 0; round < 300; round++) {
      const sources = tsidSources(random, round % 5 === 4);
      const { seriesSources, walkBatches } = seriesCase(sources, []);
      const foundBefore = new Map<string, Uint8Array>();
      if (round % 3 === 0) foundBefore.set("s1", Uint8Array.from([1, 0, round % 2]));
      const groups = groupByTsid(seriesSources);
      expect(groups).toBeDefined();
      const result = lastRowsOfSeries(
        seriesSources,
        groups ?? [],
        WANTED.length,
        (s, b) => walkBatches[s]![b]!,
        (series) => foundBefore.get(series),
      );
      expect(result).toBeDefined();
      const expected = referenceLast(sources, foundBefore);
      const got = (result?.rows ?? []).map(
        ({ source, batch, row }) => `${source}:${positionOf(sources[source]!, batch, row)}`,
      );
      expect(got, `round ${round}`).toEqual(expected.picks);
      expect(new Map(result?.found ?? [])).toEqual(expected.found);
      picked += got.length;
    }
    expect(picked).toBeGreaterThan(500);
  });

  it("with a source holding only each series' newest rows: the same answer, or none when older rows matter", () => {
    const random = mulberry32(7);
    let decided = 0;
    let undecided = 0;
    for (let round = 0; round < 300; round++) {
      const full = tsidSources(random, false);
      // The highest-priority source cut down to the rows of each tsid's newest timestamp.
      const top = full.reduce((best, s, i) => (s.priority >= full[best]!.priority ? i : best), 0);
      const newestTs = new Map<bigint, number>();
      for (const row of full[top]!.rows) {
        const tsid = row[0] as bigint;
        newestTs.set(tsid, Math.max(newestTs.get(tsid) ?? -Infinity, row[1] as number));
      }
      const newestRows = full[top]!.rows.filter((r) => r[1] === newestTs.get(r[0] as bigint));
      const cut = full.map((s, i) =>
        i === top ? { ...s, rows: newestRows, batches: cutIntoBatches(COLUMNS, newestRows, random) } : s,
      );
      const { seriesSources, walkBatches } = seriesCase(
        cut,
        cut.map((_, i) => i === top),
      );
      const result = lastRowsOfSeries(
        seriesSources,
        groupByTsid(seriesSources) ?? [],
        WANTED.length,
        (s, b) => walkBatches[s]![b]!,
        () => undefined,
      );
      if (result === undefined) {
        undecided++;
        continue;
      }
      decided++;
      // Decided: the answer of the full sources, in rows of the cut one.
      const expected = referenceLast(full, new Map());
      const rowOf = (source: number, position: number) => text(full[source]!.rows[position]);
      expect(
        result.rows.map(({ source, batch, row }) =>
          text(cut[source]!.batches[batch]!.columns.map((c) => cellAt(c, row))),
        ),
        `round ${round}`,
      ).toEqual(expected.picks.map((p) => rowOf(...(p.split(":").map(Number) as [number, number]))));
    }
    expect(decided).toBeGreaterThan(50);
    expect(undecided).toBeGreaterThan(5);
  });

  it("refuses sources out of tsid order and a tsid holding two series", () => {
    const segment = (tsidLow: number, series: string): SeriesSegment => ({
      tsidHigh: 0,
      tsidLow,
      batch: 0,
      start: 0,
      end: 1,
      series,
    });
    expect(groupByTsid([{ priority: 1, segments: [segment(2, "a"), segment(1, "a")] }])).toBeUndefined();
    expect(
      groupByTsid([
        { priority: 1, segments: [segment(1, "a")] },
        { priority: 2, segments: [segment(1, "b")] },
      ]),
    ).toBeUndefined();
    expect(
      groupByTsid([
        { priority: 1, segments: [segment(1, "a"), segment(3, "c")] },
        { priority: 2, segments: [segment(1, "a"), segment(2, "b")] },
      ])?.map((g) => [g.series, g.parts.map((p) => p.source)]),
    ).toEqual([
      ["a", [0, 1]],
      ["b", [1]],
      ["c", [0]],
    ]);
  });
});
