import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStandaloneEngine, TableError, type StorageEngine } from "../../src/engine/index.js";
import { executeSql, SqlExecutionError, type SqlOutcome } from "../../src/interpreters/index.js";
import { QueryExecutionError, QueryPlanError, resultRowObjects } from "../../src/query/index.js";
import { SqlSyntaxError } from "../../src/sql/index.js";
import type { CellValue } from "../../src/table/data-type.js";

let dataDir: string;
let engine: StorageEngine;
// Recent timestamps: rows older than the default TTL (7 days) are hidden from reads.
const T = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "horaedb-interpreters-"));
  engine = await openStandaloneEngine({
    dataDir,
    logger: pino({ level: "silent" }),
    encoderWorkers: 0,
    fsyncObjects: false,
    flushCheckIntervalMs: 3_600_000,
  });
});
afterEach(async () => {
  await engine.close();
  await rm(dataDir, { recursive: true, force: true });
});

const run = (sql: string): Promise<SqlOutcome> => executeSql(engine, "public", sql);

async function rows(sql: string): Promise<Record<string, CellValue>[]> {
  const outcome = await run(sql);
  if (outcome.kind !== "rows") throw new Error(`expected rows from ${sql}`);
  return resultRowObjects(outcome.result);
}

const CREATE_CPU = `CREATE TABLE cpu (
  host string TAG,
  region string TAG NOT NULL DEFAULT 'eu',
  usage double COMMENT 'percent busy',
  cores int32 NOT NULL DEFAULT 2 * 4,
  ts timestamp NOT NULL,
  TIMESTAMP KEY(ts)
) ENGINE=analytic WITH (segment_duration='1h', update_mode='APPEND')`;

describe("executeSql: DDL", () => {
  it("creates a table with tags, defaults, comments and options, and DESCRIBE lists it like HoraeDB", async () => {
    await expect(run(CREATE_CPU)).resolves.toEqual({ kind: "affected", rows: 0 });
    const info = engine.table("public", "cpu");
    expect(info?.options.segmentDurationMs).toBe(3_600_000);
    expect(info?.options.updateMode).toBe("APPEND");
    expect(await rows("DESCRIBE cpu")).toEqual([
      {
        name: "tsid",
        type: "uint64",
        is_primary: true,
        is_nullable: false,
        is_tag: false,
        comment: expect.any(String) as unknown,
      },
      { name: "host", type: "string", is_primary: false, is_nullable: true, is_tag: true, comment: "" },
      { name: "region", type: "string", is_primary: false, is_nullable: false, is_tag: true, comment: "" },
      {
        name: "usage",
        type: "double",
        is_primary: false,
        is_nullable: true,
        is_tag: false,
        comment: "percent busy",
      },
      { name: "cores", type: "int32", is_primary: false, is_nullable: false, is_tag: false, comment: "" },
      { name: "ts", type: "timestamp", is_primary: true, is_nullable: false, is_tag: false, comment: "" },
    ]);
    expect(info?.schema.column("cores")?.defaultValue).toBe(8);
    expect(info?.schema.column("region")?.defaultValue).toBe("eu");
  });

  it("honours IF NOT EXISTS and refuses a second create without it", async () => {
    await run(CREATE_CPU);
    await expect(run(CREATE_CPU.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))).resolves.toEqual({
      kind: "affected",
      rows: 0,
    });
    await expect(run(CREATE_CPU)).rejects.toMatchObject({ name: "TableError", kind: "already_exists" });
  });

  it("refuses PARTITION BY and engines other than Analytic with a clear message", async () => {
    const partitioned = run("CREATE TABLE p (h string TAG, ts timestamp) PARTITION BY KEY(h) PARTITIONS 4");
    await expect(partitioned).rejects.toBeInstanceOf(SqlExecutionError);
    await expect(partitioned).rejects.toThrow("partitioned tables are not supported in standalone mode yet");
    await expect(run("CREATE TABLE p (ts timestamp) ENGINE=Memory")).rejects.toThrow(
      'table engine "Memory" is not supported; the only engine is Analytic (at line 1, column 38)',
    );
    expect(engine.table("public", "p")).toBeUndefined();
  });

  it("drops tables, with IF EXISTS tolerating a missing one", async () => {
    await run(CREATE_CPU);
    await run("DROP TABLE cpu");
    expect(engine.table("public", "cpu")).toBeUndefined();
    await expect(run("DROP TABLE IF EXISTS cpu")).resolves.toEqual({ kind: "affected", rows: 0 });
    await expect(run("DROP TABLE cpu")).rejects.toBeInstanceOf(TableError);
  });

  it("adds columns and modifies settings", async () => {
    await run(CREATE_CPU);
    await run("ALTER TABLE cpu ADD COLUMN (dc string TAG, temp double DEFAULT -1.5)");
    await run("ALTER TABLE cpu MODIFY SETTING ttl='3d', enable_ttl='false'");
    const info = engine.table("public", "cpu");
    expect(info?.schema.column("dc")?.isTag).toBe(true);
    expect(info?.schema.column("temp")?.defaultValue).toBe(-1.5);
    expect(info?.options.ttlMs).toBe(3 * 86_400_000);
    expect(info?.options.enableTtl).toBe(false);
    await expect(run("ALTER TABLE nope ADD COLUMN x double")).rejects.toMatchObject({ kind: "not_found" });
  });

  it("shows tables (with LIKE), databases, and whether a table exists", async () => {
    await run(CREATE_CPU);
    await run("CREATE TABLE cpu_2 (ts timestamp, v double)");
    await run("CREATE TABLE mem (ts timestamp, v double)");
    expect(await rows("SHOW TABLES")).toEqual([{ Tables: "cpu" }, { Tables: "cpu_2" }, { Tables: "mem" }]);
    expect(await rows("SHOW TABLES LIKE 'cpu%'")).toEqual([{ Tables: "cpu" }, { Tables: "cpu_2" }]);
    expect(await rows("SHOW TABLES LIKE 'cpu_'")).toEqual([]);
    expect(await rows("SHOW DATABASES")).toEqual([{ Schemas: "public" }]);
    expect(await rows("EXISTS TABLE mem")).toEqual([{ result: 1 }]);
    expect(await rows("EXISTS TABLE nope")).toEqual([{ result: 0 }]);
  });

  it("SHOW CREATE TABLE output parses and recreates the same schema and options", async () => {
    await run(CREATE_CPU);
    const [shown] = await rows("SHOW CREATE TABLE cpu");
    expect(shown?.["Table"]).toBe("cpu");
    const text = String(shown?.["Create Table"]);
    expect(text).toContain("ENGINE=Analytic");
    expect(text).toContain("COMMENT 'percent busy'");
    const original = engine.table("public", "cpu");
    await run("DROP TABLE cpu");
    await run(text);
    const recreated = engine.table("public", "cpu");
    expect(recreated?.schema.toJSON()).toEqual(original?.schema.toJSON());
    expect(recreated?.options).toEqual(original?.options);
    const [again] = await rows("SHOW CREATE TABLE cpu");
    expect(again?.["Create Table"]).toBe(text);
  });

  it("round trips an explicit primary key through SHOW CREATE TABLE", async () => {
    await run("CREATE TABLE k (name string NOT NULL, ts timestamp, v bigint, PRIMARY KEY(name, ts))");
    const [shown] = await rows("SHOW CREATE TABLE k");
    const original = engine.table("public", "k")?.schema.toJSON();
    await run("DROP TABLE k");
    await run(String(shown?.["Create Table"]));
    expect(engine.table("public", "k")?.schema.toJSON()).toEqual(original);
  });
});

describe("executeSql: INSERT and SELECT", () => {
  beforeEach(async () => {
    await run(CREATE_CPU);
  });

  it("inserts rows from literal expressions and reads them back", async () => {
    const outcome = await run(
      `INSERT INTO cpu (host, usage, ts, cores) VALUES
         ('a', -1.5, ${T}, 3),
         ('b', 10 * 2 + 0.5, ${T} + 1000, -(2)),
         (NULL, NULL, ${T} + 2000, 1)`,
    );
    expect(outcome).toEqual({ kind: "affected", rows: 3 });
    expect(await rows("SELECT host, region, usage, cores, ts FROM cpu ORDER BY ts")).toEqual([
      { host: "a", region: "eu", usage: -1.5, cores: 3, ts: T },
      { host: "b", region: "eu", usage: 20.5, cores: -2, ts: T + 1000 },
      { host: null, region: "eu", usage: null, cores: 1, ts: T + 2000 },
    ]);
  });

  it("evaluates now() and takes rows without a column list in table order", async () => {
    const before = Date.now();
    await run("INSERT INTO cpu VALUES ('h', 'us', 1, 4, now())");
    const [row] = await rows("SELECT host, region, usage, cores, ts FROM cpu");
    expect(row).toMatchObject({ host: "h", region: "us", usage: 1, cores: 4 });
    expect(row?.["ts"]).toBeGreaterThanOrEqual(before);
    expect(row?.["ts"]).toBeLessThanOrEqual(Date.now());
  });

  it("refuses a row whose value count does not match the columns, an unknown column and an unknown table", async () => {
    await expect(run(`INSERT INTO cpu (host, ts) VALUES ('a', ${T}), ('b')`)).rejects.toThrow(
      "row 2 has 1 values but 2 columns are inserted (at line 1, column 58)",
    );
    await expect(run(`INSERT INTO cpu (hots, ts) VALUES ('a', ${T})`)).rejects.toThrow(
      'table public.cpu has no column "hots" (at line 1, column 18)',
    );
    await expect(run(`INSERT INTO nope (ts) VALUES (${T})`)).rejects.toMatchObject({
      name: "SqlExecutionError",
      kind: "not_found",
    });
    expect(await rows("SELECT count(*) AS n FROM cpu")).toEqual([{ n: 0n }]);
  });

  it("refuses a value that does not convert to the column's type, pointing at it", async () => {
    const failure = run(`INSERT INTO cpu (host, ts, usage) VALUES ('a', ${T}, 'lots')`);
    await expect(failure).rejects.toSatisfy(
      (e: unknown) => e instanceof QueryPlanError || e instanceof QueryExecutionError,
    );
  });

  it("answers EXPLAIN and EXPLAIN ANALYZE with a plan column", async () => {
    await run(`INSERT INTO cpu (host, ts) VALUES ('a', ${T})`);
    const plain = await rows("EXPLAIN SELECT host FROM cpu WHERE host = 'a'");
    expect(plain.length).toBeGreaterThan(0);
    expect(Object.keys(plain[0] ?? {})).toEqual(["plan"]);
    const analyzed = await rows("EXPLAIN ANALYZE SELECT count(*) FROM cpu");
    expect(String(analyzed[0]?.["plan"])).toMatch(/rows/);
  });
});

describe("executeSql: errors", () => {
  it("reports syntax errors with line and column", async () => {
    const failure = run("SELECT host\nFROM cpu WHERE");
    await expect(failure).rejects.toBeInstanceOf(SqlSyntaxError);
    await expect(failure).rejects.toMatchObject({ line: 2 });
  });

  it("reports plan errors with line and column", async () => {
    await run(CREATE_CPU);
    const failure = run("SELECT nope\nFROM cpu");
    await expect(failure).rejects.toBeInstanceOf(QueryPlanError);
    await expect(failure).rejects.toMatchObject({ line: 1, column: 8 });
  });

  it("reports an unknown table in DESCRIBE and SHOW CREATE TABLE as not found", async () => {
    await expect(run("DESCRIBE nope")).rejects.toMatchObject({ kind: "not_found", line: 1, column: 10 });
    await expect(run("SHOW CREATE TABLE nope")).rejects.toMatchObject({ kind: "not_found" });
  });

  it("stops a query on an aborted signal", async () => {
    await run(CREATE_CPU);
    const abort = new AbortController();
    abort.abort(new Error("stop"));
    await expect(
      executeSql(engine, "public", "SELECT * FROM cpu", { signal: abort.signal }),
    ).rejects.toMatchObject({ name: "QueryExecutionError", code: "cancelled" });
  });
});
