import { describe, expect, it } from "vitest";
import { parseStatement, parseStatements } from "../../src/sql/index.js";
import { parseAs, sexpr, withoutPositions } from "./ast-helpers.js";

const name = (value: string) => ({ value });
const table = (value: string) => ({ schema: undefined, name: name(value) });

describe("CREATE TABLE", () => {
  it("reads HoraeDB's example with TAG, NULL, NOT NULL, TIMESTAMP KEY, ENGINE and WITH", () => {
    const sql =
      "CREATE TABLE cpu (host string TAG, region string TAG NULL, ts timestamp NOT NULL, usage double, " +
      "TIMESTAMP KEY(ts)) ENGINE=Analytic WITH (enable_ttl='false', segment_duration='2h')";
    const create = parseAs(sql, "createTable");
    expect(withoutPositions(create)).toEqual({
      kind: "createTable",
      ifNotExists: false,
      table: table("cpu"),
      columns: [
        {
          name: name("host"),
          type: "string",
          isTag: true,
          nullable: undefined,
          default: undefined,
          comment: undefined,
        },
        {
          name: name("region"),
          type: "string",
          isTag: true,
          nullable: true,
          default: undefined,
          comment: undefined,
        },
        {
          name: name("ts"),
          type: "timestamp",
          isTag: false,
          nullable: false,
          default: undefined,
          comment: undefined,
        },
        {
          name: name("usage"),
          type: "double",
          isTag: false,
          nullable: undefined,
          default: undefined,
          comment: undefined,
        },
      ],
      timestampKey: name("ts"),
      primaryKey: undefined,
      partition: undefined,
      engine: name("Analytic"),
      options: [
        { name: name("enable_ttl"), value: "false" },
        { name: name("segment_duration"), value: "2h" },
      ],
    });
    expect(create.columns[1]?.typePos).toEqual({ line: 1, column: 43, offset: 42 });
    expect(sql.slice(create.options[1]?.valuePos.offset)).toBe("'2h')");
    expect(sql.slice(create.timestampKey?.pos.offset)).toMatch(/^ts\)\) ENGINE/);
  });

  it("reads IF NOT EXISTS, DEFAULT, COMMENT, PRIMARY KEY, PARTITION BY KEY and type aliases", () => {
    const create = parseAs(
      `CREATE TABLE IF NOT EXISTS public.metrics (
         host VARCHAR TAG NOT NULL COMMENT 'the host',
         ts TIMESTAMP NOT NULL,
         v BIGINT DEFAULT -1 NULL,
         ok BOOLEAN DEFAULT TRUE,
         n INT, f FLOAT, u UINT64, b VARBINARY, t TEXT,
         PRIMARY KEY(host, ts),
         TIMESTAMP KEY(ts),
       ) PARTITION BY KEY(host) PARTITIONS 4 ENGINE = Analytic`,
      "createTable",
    );
    expect(create.ifNotExists).toBe(true);
    expect(withoutPositions(create.table)).toEqual({ schema: name("public"), name: name("metrics") });
    expect(create.columns.map((c) => [c.name.value, c.type])).toEqual([
      ["host", "string"],
      ["ts", "timestamp"],
      ["v", "int64"],
      ["ok", "boolean"],
      ["n", "int32"],
      ["f", "float"],
      ["u", "uint64"],
      ["b", "varbinary"],
      ["t", "string"],
    ]);
    expect(create.columns[0]).toMatchObject({ isTag: true, nullable: false, comment: "the host" });
    expect(create.columns[2]).toMatchObject({ nullable: true, default: { kind: "integer", value: -1n } });
    expect(create.columns[3]?.default).toMatchObject({ kind: "boolean", value: true });
    expect(withoutPositions(create.primaryKey)).toEqual([name("host"), name("ts")]);
    expect(withoutPositions(create.partition)).toEqual({ kind: "key", columns: [name("host")], count: 4 });
  });

  it("accepts TIMESTAMP KEY written on the column itself", () => {
    const create = parseAs("CREATE TABLE t (ts timestamp NOT NULL TIMESTAMP KEY, v double)", "createTable");
    expect(create.timestampKey).toEqual(create.columns[0]?.name);
    expect(create.columns[0]?.nullable).toBe(false);
  });

  it("takes the only timestamp column as the key when none is given, as HoraeDB does", () => {
    expect(parseAs("CREATE TABLE t (ts timestamp, v double)", "createTable").timestampKey?.value).toBe("ts");
    expect(parseAs("CREATE TABLE t (a timestamp, b timestamp)", "createTable").timestampKey).toBeUndefined();
    expect(parseAs("CREATE TABLE t (v double)", "createTable").timestampKey).toBeUndefined();
  });

  it("lets keywords that are not reserved be column names", () => {
    const create = parseAs(
      "CREATE TABLE t (timestamp timestamp NOT NULL, tag string TAG, key string, value double, comment string, " +
        "TIMESTAMP KEY(timestamp))",
      "createTable",
    );
    expect(create.columns.map((c) => c.name.value)).toEqual(["timestamp", "tag", "key", "value", "comment"]);
    expect(create.timestampKey?.value).toBe("timestamp");
  });

  it("defaults PARTITIONS to 1 and keeps option values of every literal kind as text", () => {
    const create = parseAs(
      "CREATE TABLE t (h string TAG, ts timestamp NOT NULL) PARTITION BY KEY(h) " +
        "WITH (ttl='7d', num_rows_per_row_group=8192, enable_ttl=FALSE, x=1.5)",
      "createTable",
    );
    expect(create.partition?.count).toBe(1);
    expect(create.options.map((o) => [o.name.value, o.value])).toEqual([
      ["ttl", "7d"],
      ["num_rows_per_row_group", "8192"],
      ["enable_ttl", "false"],
      ["x", "1.5"],
    ]);
  });

  it("accepts the clauses after the column list in any order", () => {
    const a = parseStatement("CREATE TABLE t (ts timestamp) WITH (ttl='1d') ENGINE=Analytic");
    const b = parseStatement("CREATE TABLE t (ts timestamp) ENGINE=Analytic WITH (ttl='1d')");
    expect(withoutPositions(a)).toEqual(withoutPositions(b));
  });
});

describe("DROP, ALTER, DESCRIBE, SHOW, EXISTS", () => {
  it("reads DROP TABLE [IF EXISTS]", () => {
    expect(withoutPositions(parseStatement("DROP TABLE cpu"))).toEqual({
      kind: "dropTable",
      ifExists: false,
      table: table("cpu"),
    });
    expect(parseAs("drop table if exists cpu", "dropTable").ifExists).toBe(true);
  });

  it("reads ALTER TABLE ADD COLUMN in its single, repeated and parenthesised forms", () => {
    const single = parseAs("ALTER TABLE t ADD COLUMN c string TAG", "alterTableAddColumns");
    expect(withoutPositions(single)).toEqual({
      kind: "alterTableAddColumns",
      table: table("t"),
      columns: [
        {
          name: name("c"),
          type: "string",
          isTag: true,
          nullable: undefined,
          default: undefined,
          comment: undefined,
        },
      ],
    });
    const repeated = parseAs(
      "ALTER TABLE t ADD COLUMN a string TAG, ADD COLUMN b double",
      "alterTableAddColumns",
    );
    const parenthesised = parseAs(
      "ALTER TABLE t ADD COLUMN (a string TAG, b double)",
      "alterTableAddColumns",
    );
    expect(withoutPositions(repeated)).toEqual(withoutPositions(parenthesised));
    expect(parenthesised.columns.map((c) => [c.name.value, c.type, c.isTag])).toEqual([
      ["a", "string", true],
      ["b", "double", false],
    ]);
  });

  it("reads ALTER TABLE MODIFY SETTING", () => {
    expect(
      withoutPositions(parseStatement("ALTER TABLE t MODIFY SETTING ttl='8d', enable_ttl='true'")),
    ).toEqual({
      kind: "alterTableModifySetting",
      table: table("t"),
      options: [
        { name: name("ttl"), value: "8d" },
        { name: name("enable_ttl"), value: "true" },
      ],
    });
  });

  it("reads DESCRIBE and DESC, with or without TABLE", () => {
    for (const sql of ["DESCRIBE cpu", "DESC cpu", "describe table cpu", "DESC TABLE cpu;"]) {
      expect(withoutPositions(parseStatement(sql))).toEqual({ kind: "describeTable", table: table("cpu") });
    }
  });

  it("reads the SHOW statements", () => {
    expect(withoutPositions(parseStatement("SHOW TABLES"))).toEqual({
      kind: "showTables",
      pattern: undefined,
    });
    expect(withoutPositions(parseStatement("show tables like 'cpu%'"))).toEqual({
      kind: "showTables",
      pattern: "cpu%",
    });
    expect(withoutPositions(parseStatement("SHOW CREATE TABLE cpu"))).toEqual({
      kind: "showCreateTable",
      table: table("cpu"),
    });
    expect(withoutPositions(parseStatement("SHOW DATABASES"))).toEqual({ kind: "showDatabases" });
  });

  it("reads EXISTS [TABLE]", () => {
    expect(withoutPositions(parseStatement("EXISTS TABLE cpu"))).toEqual({
      kind: "existsTable",
      table: table("cpu"),
    });
    expect(withoutPositions(parseStatement("exists cpu"))).toEqual({
      kind: "existsTable",
      table: table("cpu"),
    });
  });
});

describe("INSERT", () => {
  it("reads a column list and several rows of expressions", () => {
    const insert = parseAs(
      "INSERT INTO cpu (host, ts, usage) VALUES ('h1', 1700000000000, -0.5), ('h2', now(), 1 + 2 * 3)",
      "insert",
    );
    expect(insert.columns?.map((c) => c.value)).toEqual(["host", "ts", "usage"]);
    expect(insert.rows.map((row) => row.map(sexpr))).toEqual([
      ["'h1'", "1700000000000", "-0.5f"],
      ["'h2'", "(now)", "(+ 1 (* 2 3))"],
    ]);
  });

  it("reads rows without a column list", () => {
    const insert = parseAs("INSERT INTO cpu VALUES (1, NULL, TRUE)", "insert");
    expect(insert.columns).toBeUndefined();
    expect(insert.rows.map((row) => row.map(sexpr))).toEqual([["1", "null", "true"]]);
  });
});

describe("SELECT", () => {
  it("reads every clause", () => {
    const select = parseAs(
      "SELECT DISTINCT host, avg(usage) AS a, max(v) m FROM cpu c WHERE ts > 0 GROUP BY host, 2 " +
        "HAVING avg(usage) > 1 ORDER BY a DESC NULLS LAST, host ASC, m NULLS FIRST LIMIT 10 OFFSET 5",
      "select",
    );
    expect(select.distinct).toBe(true);
    expect(select.items.map((i) => (i.kind === "expr" ? [sexpr(i.expr), i.alias?.value] : ["*"]))).toEqual([
      ["host", undefined],
      ["(avg usage)", "a"],
      ["(max v)", "m"],
    ]);
    expect(withoutPositions(select.from)).toEqual({ table: table("cpu"), alias: name("c") });
    expect(select.where && sexpr(select.where)).toBe("(> ts 0)");
    expect(select.groupBy.map(sexpr)).toEqual(["host", "2"]);
    expect(select.having && sexpr(select.having)).toBe("(> (avg usage) 1)");
    expect(select.orderBy.map((o) => [sexpr(o.expr), o.direction, o.nulls])).toEqual([
      ["a", "DESC", "LAST"],
      ["host", "ASC", undefined],
      ["m", undefined, "FIRST"],
    ]);
    expect(select.limit?.value).toBe(10n);
    expect(select.offset?.value).toBe(5n);
  });

  it("reads the TSBS-style query", () => {
    const select = parseAs(
      "SELECT time_bucket(ts, 'PT1M') AS minute, max(usage_user) FROM cpu WHERE host IN ('host_1','host_2') " +
        "AND ts >= now() - INTERVAL '1 hour' GROUP BY minute ORDER BY minute",
      "select",
    );
    expect(select.where && sexpr(select.where)).toBe(
      "(AND (in host ['host_1' 'host_2']) (>= ts (- (now) (interval 0mo 3600000ms))))",
    );
  });

  it("reads * and t.* wildcards", () => {
    const select = parseAs("SELECT *, cpu.*, `my t`.* FROM cpu", "select");
    expect(withoutPositions(select.items)).toEqual([
      { kind: "wildcard", table: undefined },
      { kind: "wildcard", table: name("cpu") },
      { kind: "wildcard", table: name("my t") },
    ]);
  });

  it("reads SELECT without FROM", () => {
    const select = parseAs("SELECT 1 + 1, now()", "select");
    expect(select.from).toBeUndefined();
    expect(select.items.map((i) => (i.kind === "expr" ? sexpr(i.expr) : "*"))).toEqual(["(+ 1 1)", "(now)"]);
  });

  it("reads LIMIT m, n as offset m and limit n, and OFFSET before LIMIT", () => {
    const a = parseAs("SELECT * FROM t LIMIT 20, 10", "select");
    expect([a.limit?.value, a.offset?.value]).toEqual([10n, 20n]);
    const b = parseAs("SELECT * FROM t OFFSET 20 LIMIT 10", "select");
    expect([b.limit?.value, b.offset?.value]).toEqual([10n, 20n]);
    const c = parseAs("SELECT * FROM t OFFSET 3", "select");
    expect([c.limit, c.offset?.value]).toEqual([undefined, 3n]);
  });
});

describe("EXPLAIN", () => {
  it("wraps any statement, with ANALYZE", () => {
    const explain = parseAs("EXPLAIN SELECT * FROM cpu", "explain");
    expect(explain.analyze).toBe(false);
    expect(explain.statement.kind).toBe("select");
    const analyze = parseAs("explain analyze INSERT INTO t VALUES (1)", "explain");
    expect(analyze.analyze).toBe(true);
    expect(analyze.statement.kind).toBe("insert");
  });
});

describe("statement lists", () => {
  it("splits on semicolons, skips empty statements and comments, allows a trailing semicolon", () => {
    const statements = parseStatements(`
      -- create it
      CREATE TABLE t (ts timestamp);;
      /* then fill it */ INSERT INTO t VALUES (1);
      SELECT * FROM t;
    `);
    expect(statements.map((s) => s.kind)).toEqual(["createTable", "insert", "select"]);
    expect(parseStatements("")).toEqual([]);
    expect(parseStatements(" ; -- nothing\n ;")).toEqual([]);
  });

  it("parses one statement with an optional trailing semicolon", () => {
    expect(parseStatement("SHOW TABLES;").kind).toBe("showTables");
    expect(parseStatement("SHOW TABLES ; -- done").kind).toBe("showTables");
  });

  it("records where each statement starts", () => {
    const [first, second] = parseStatements("SHOW TABLES;\n  DESC t");
    expect(first?.pos).toEqual({ line: 1, column: 1, offset: 0 });
    expect(second?.pos).toEqual({ line: 2, column: 3, offset: 15 });
  });
});
