/**
 * Differential test: random tables and random SELECTs (filters, GROUP BY, aggregates, ORDER BY,
 * LIMIT) run on the engine and on SQLite (sql.js), results compared. What the generator leaves
 * out because the two define it differently is written down in differential-expressions.ts and
 * differential-queries.ts.
 *
 * The seed is printed first; replay a run with
 *   DIFF_TEST_SEED=<seed> npx vitest run --project unit horaedb/test/query/differential.test.ts
 * DIFF_TEST_QUERIES=<n> runs more (or fewer) queries than the default 2,000; a failure names the
 * number of queries that reaches it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageEngine } from "../../src/engine/engine.js";
import { openStandaloneEngine } from "../../src/engine/standalone.js";
import { executeSql } from "../../src/interpreters/index.js";
import { resultRowArrays, type ResultColumn } from "../../src/query/index.js";
import {
  compareResults,
  compareSubset,
  normaliseOurs,
  normaliseReference,
  type Value,
} from "./differential-compare.js";
import { TableModel } from "./differential-expressions.js";
import { QueryGenerator, type GeneratedQuery } from "./differential-queries.js";
import { ReferenceDatabase } from "./differential-reference.js";
import { differentialSeed, Rng } from "./differential-rng.js";
import {
  DATABASE,
  generateTableData,
  generateTableSpec,
  loadIntoEngine,
  loadIntoReference,
  type TableData,
} from "./differential-tables.js";

const SEED = differentialSeed();
const QUERIES = queryCount(process.env["DIFF_TEST_QUERIES"]);
const TABLES = 3;
/** Failures reported in full; the run stops collecting after this many. */
const MAX_REPORTED = 5;

function queryCount(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 2000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`DIFF_TEST_QUERIES must be a positive integer, not '${raw}'`);
  return n;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

describe("differential test against SQLite", () => {
  const rng = new Rng(SEED);
  let dataDir: string;
  let engine: StorageEngine;
  let reference: ReferenceDatabase;
  const tables: TableData[] = [];
  const spent = { engineMs: 0, referenceMs: 0 };

  beforeAll(async () => {
    console.log(`differential test seed: ${SEED} (replay with DIFF_TEST_SEED=${SEED})`);
    dataDir = await mkdtemp(join(tmpdir(), "horaedb-differential-"));
    engine = await openStandaloneEngine({
      dataDir,
      logger: pino({ level: "silent" }),
      encoderWorkers: 0,
      fsyncObjects: false,
      flushCheckIntervalMs: 3_600_000,
      // Keep the SSTs of each flush apart, so reads merge overlapping files and the memtable.
      compaction: { paused: true },
    });
    reference = await ReferenceDatabase.open();
    for (let t = 0; t < TABLES; t++) {
      const data = generateTableData(rng, generateTableSpec(rng, `t${t}`));
      await loadIntoEngine(engine, data);
      loadIntoReference(reference.db, data);
      tables.push(data);
    }
    for (const { spec, visible } of tables) {
      const columns = [
        ...spec.tags.map((t) => `${t.name} tag`),
        ...spec.fields.map((f) => `${f.name} ${f.type}${f.addedLater ? " (added later)" : ""}`),
      ];
      const ssts = engine.sstFiles(DATABASE, spec.name).length;
      console.log(`  ${spec.name} (${columns.join(", ")}): ${visible.length} rows, ${ssts} SSTs`);
    }
  }, 60_000);

  afterAll(async () => {
    reference?.close();
    await engine?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it("splits every table between SSTs and the memtable, with overwritten keys", () => {
    for (const data of tables) {
      expect(engine.sstFiles(DATABASE, data.spec.name).length).toBeGreaterThanOrEqual(2);
      const written = data.steps.reduce((n, s) => n + s.rows.length, 0);
      expect(written).toBeGreaterThan(data.visible.length);
      expect(data.steps.at(-1)?.flushAfter).toBe(false);
    }
  });

  it(`agrees with SQLite on ${QUERIES} random SELECTs`, async () => {
    const models = tables.map((data) => new TableModel(data));
    const failures: string[] = [];
    let nonEmpty = 0;
    let ordered = 0;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    for (let q = 0; q < QUERIES && failures.length < MAX_REPORTED; q++) {
      const query = new QueryGenerator(rng, rng.pick(models)).generate();
      const failure = await check(query);
      if (failure.message !== undefined) {
        failures.push(
          `query #${q} (DIFF_TEST_SEED=${SEED} DIFF_TEST_QUERIES=${q + 1}, table ${query.table}):\n` +
            `  here:   ${query.ours}\n  SQLite: ${query.reference}\n${failure.message}`,
        );
      }
      if (failure.rows > 0) nonEmpty += 1;
      if (query.ordered) ordered += 1;
    }
    const ms = Math.round(performance.now() - started);
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
    console.log(
      `differential test: ${QUERIES} queries in ${ms} ms, ${cpuMs} ms CPU (engine ${Math.round(spent.engineMs)} ms, ` +
        `SQLite ${Math.round(spent.referenceMs)} ms), ${nonEmpty} with rows, ${ordered} ordered (seed ${SEED})`,
    );
    expect(failures.join("\n\n")).toBe("");
    // Most queries must return rows, or the comparison says little.
    expect(nonEmpty).toBeGreaterThan(QUERIES * 0.5);
  }, 120_000);

  /** Runs the query on both; the differences as text (undefined when they agree) and the row count. */
  async function check(query: GeneratedQuery): Promise<{ message: string | undefined; rows: number }> {
    let columns: readonly ResultColumn[];
    let ours: Value[][];
    const engineStart = performance.now();
    try {
      const outcome = await executeSql(engine, DATABASE, query.ours);
      if (outcome.kind !== "rows") return { message: `  not a query result: ${outcome.kind}`, rows: 0 };
      const types = outcome.result.columns;
      columns = types;
      ours = resultRowArrays(outcome.result).map((row) => row.map((v, i) => normaliseOurs(v, types[i])));
    } catch (error) {
      let referenceOutcome: string;
      try {
        referenceOutcome = `${reference.query(query.reference).length} rows`;
      } catch (referenceError) {
        referenceOutcome = `error ${errorText(referenceError)}`;
      }
      return { message: `  here: error ${errorText(error)}\n  SQLite: ${referenceOutcome}`, rows: 0 };
    }
    const referenceStart = performance.now();
    spent.engineMs += referenceStart - engineStart;
    let theirs: Value[][];
    try {
      theirs = reference
        .query(query.reference)
        .map((row) => row.map((v, i) => normaliseReference(v, columns[i])));
    } catch (error) {
      return {
        message: `  here: ${ours.length} rows\n  SQLite: error ${errorText(error)}`,
        rows: ours.length,
      };
    } finally {
      spent.referenceMs += performance.now() - referenceStart;
    }
    const mismatch =
      query.unorderedLimit === undefined
        ? compareResults(ours, theirs, query.ordered, query.tolerances)
        : compareSubset(ours, theirs, query.unorderedLimit, query.tolerances);
    return { message: mismatch === undefined ? undefined : `  ${mismatch.description}`, rows: theirs.length };
  }
});

describe("differential result comparison", () => {
  const int = { name: "n", type: "int64" } as const;
  const double = { name: "d", type: "double" } as const;
  const bool = { name: "b", type: "boolean" } as const;

  it("reads SQLite's cells as the engine's column types", () => {
    expect(normaliseReference(1n, bool)).toBe(true);
    expect(normaliseReference(0n, bool)).toBe(false);
    expect(normaliseReference(3n, double)).toBe(3);
    expect(normaliseReference(1_704_067_200_000, { name: "ts", type: "timestamp" })).toBe(1_704_067_200_000n);
    expect(normaliseOurs(7, { name: "k", type: "int32" })).toBe(7n);
    // A REAL where the engine has an integer stays a number, and so differs.
    expect(normaliseReference(2.5, int)).toBe(2.5);
  });

  it("reports the first differing row, in order or as multisets", () => {
    const rows: Value[][] = [
      [1n, "a"],
      [2n, null],
    ];
    expect(compareResults(rows, [...rows], true, [0, 0])).toBeUndefined();
    expect(compareResults(rows, [...rows].reverse(), false, [0, 0])).toBeUndefined();
    expect(compareResults(rows, [...rows].reverse(), true, [0, 0])?.description).toMatch(/at row 0/);
    expect(compareResults(rows, [rows[0] as Value[], [2n, "b"]], true, [0, 0])?.description).toMatch(
      /at row 1:\n {2}here: {3}\(2n, NULL\)\n {2}SQLite: \(2n, 'b'\)/,
    );
    expect(compareResults(rows, rows.slice(0, 1), true, [0, 0])?.description).toMatch(
      /2 rows here, 1 in SQLite/,
    );
    expect(compareResults([[1n]], [[1]], true, [0])).toBeDefined();
  });

  it("allows a difference only in approximate columns, and only a small one", () => {
    expect(compareResults([[0.1 + 0.2]], [[0.3]], true, [0])).toBeDefined();
    expect(compareResults([[0.1 + 0.2]], [[0.3]], true, [1e-12])).toBeUndefined();
    expect(compareResults([[100.5]], [[100.6]], true, [1e-12])).toBeDefined();
  });

  it("takes any rows of SQLite's for LIMIT/OFFSET without ORDER BY, but as many as the clause allows", () => {
    const all: Value[][] = [[1n], [2n], [2n], [3n]];
    expect(compareSubset([[2n], [2n]], all, { limit: 2, offset: 0 }, [0])).toBeUndefined();
    expect(compareSubset([[3n]], all, { limit: undefined, offset: 3 }, [0])).toBeUndefined();
    expect(compareSubset([[3n], [3n]], all, { limit: 2, offset: 1 }, [0])?.description).toMatch(/row 1 here/);
    expect(compareSubset([[1n]], all, { limit: 2, offset: 0 }, [0])?.description).toMatch(/expected 2/);
    expect(compareSubset([[4n]], all, { limit: 1, offset: 0 }, [0])).toBeDefined();
  });
});
