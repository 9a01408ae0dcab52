/**
 * The golden corpus: each `golden/<name>.sql` holds statements (each ending with `;` at the end of
 * a line, `--` comment lines allowed) run against the query fixture; `golden/<name>.result` holds
 * the expected text: each statement followed by its result table or its error. A mismatch fails.
 *
 *   UPDATE_GOLDEN=1 npx vitest run --project unit horaedb/test/query/golden.test.ts
 *
 * rewrites the .result files from the current output (review the diff before committing). In
 * EXPLAIN ANALYZE results the times are masked.
 */
import { readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explain, executeSelect, QueryExecutionError, QueryPlanError } from "../../src/query/index.js";
import { parseStatement, SqlSyntaxError } from "../../src/sql/index.js";
import { NOW, openQueryFixture, type QueryFixture } from "./query-fixtures.js";
import { formatResult } from "./result-text.js";

const GOLDEN_DIR = join(import.meta.dirname, "golden");
const UPDATE = process.env["UPDATE_GOLDEN"] === "1";

/** The statements of a .sql file, each with the comment lines before it. */
function statementsOf(text: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  for (const line of text.split("\n")) {
    if (current.length === 0 && line.trim() === "") continue;
    current.push(line);
    if (line.trimEnd().endsWith(";")) {
      statements.push(current.join("\n"));
      current = [];
    }
  }
  if (current.some((l) => l.trim() !== "" && !l.trim().startsWith("--"))) statements.push(current.join("\n"));
  return statements;
}

/** The statement without its final semicolon; comment lines stay, so line numbers match the file's. */
function sqlOf(statement: string): string {
  return statement.trimEnd().replace(/;$/, "");
}

async function run(fixture: QueryFixture, sql: string): Promise<string> {
  try {
    const statement = parseStatement(sql);
    const options = { now: () => NOW };
    if (statement.kind === "select")
      return formatResult(await executeSelect(fixture.engine, "public", statement, options));
    if (statement.kind === "explain") {
      const text = formatResult(await explain(fixture.engine, "public", statement, options));
      // EXPLAIN ANALYZE: the times differ from run to run; the rest (rows, windows, what the
      // scan read) does not.
      return statement.analyze ? text.replaceAll(/\btime=\d+\.\d+ms/g, "time=<ms>") : text;
    }
    return `not a query: ${statement.kind}`;
  } catch (error) {
    if (
      error instanceof QueryPlanError ||
      error instanceof QueryExecutionError ||
      error instanceof SqlSyntaxError
    ) {
      return `ERROR ${error.name} ${error.code}: ${error.message}`;
    }
    throw error;
  }
}

let fixture: QueryFixture;
beforeAll(async () => {
  fixture = await openQueryFixture();
});
afterAll(async () => {
  await fixture.close();
});

const files = readdirSync(GOLDEN_DIR)
  .filter((f) => f.endsWith(".sql"))
  .sort();

describe("golden corpus", () => {
  it("has files", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)("%s matches its .result file", async (file) => {
    const statements = statementsOf(readFileSync(join(GOLDEN_DIR, file), "utf8"));
    const parts: string[] = [];
    for (const statement of statements) parts.push(`${statement}\n${await run(fixture, sqlOf(statement))}\n`);
    const actual = parts.join("\n");
    const resultPath = join(GOLDEN_DIR, file.replace(/\.sql$/, ".result"));
    if (UPDATE) {
      writeFileSync(resultPath, actual);
      return;
    }
    if (!existsSync(resultPath))
      throw new Error(`${resultPath} is missing; run with UPDATE_GOLDEN=1 to create it`);
    expect(actual).toBe(readFileSync(resultPath, "utf8"));
  });
});
