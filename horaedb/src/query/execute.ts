/**
 * The entry points of SELECT and EXPLAIN: plan the statement against the engine's tables, build
 * the operators, and run them under the query's memory limit, timeout and cancellation signal.
 */
import type { ColumnBatch } from "../batch/column-batch.js";
import type { ExplainStatement, SelectStatement } from "../sql/index.js";
import { DataType } from "../table/data-type.js";
import { QueryPlanError, QueryPlanErrorCode } from "./errors.js";
import { formatOperatorTree } from "./explain.js";
import type { Operator } from "./operators/operator.js";
import type { TableReader } from "./operators/scan.js";
import { createOperators } from "./physical-plan.js";
import { planSelect, type TableCatalog } from "./planner.js";
import { QueryContext, type QueryLimits } from "./query-context.js";
import type { QueryResult, QueryStream, ResultColumn } from "./result.js";

/** What queries need from the storage engine (a `StorageEngine` has both). */
export interface QueryEngine extends TableCatalog, TableReader {}

export interface QueryOptions extends QueryLimits {
  /** The clock of now(), ms since the epoch; read once per query. Default Date.now. */
  readonly now?: (() => number) | undefined;
  /** Rows per batch read from the engine (default: the engine's). */
  readonly batchSize?: number | undefined;
}

interface PreparedQuery {
  readonly root: Operator;
  readonly columns: readonly ResultColumn[];
  readonly context: QueryContext;
}

function prepare(
  engine: QueryEngine,
  database: string,
  statement: SelectStatement,
  options: QueryOptions,
): PreparedQuery {
  const context = new QueryContext(options, (options.now ?? Date.now)());
  const plan = planSelect(engine, database, statement, { nowMs: context.nowMs });
  const root = createOperators(plan, engine, { batchSize: options.batchSize });
  const columns = plan.fields.map((f): ResultColumn =>
    f.tag === true ? { name: f.name, type: f.type, tag: true } : { name: f.name, type: f.type },
  );
  return { root, columns, context };
}

/**
 * Runs a SELECT and returns all of its result. Planning errors (QueryPlanError) are thrown before
 * anything is read; QueryExecutionError reports a limit reached, a cancellation or a bad value.
 */
export async function executeSelect(
  engine: QueryEngine,
  database: string,
  statement: SelectStatement,
  options: QueryOptions = {},
): Promise<QueryResult> {
  const stream = executeSelectStream(engine, database, statement, options);
  const batches: ColumnBatch[] = [];
  for await (const batch of stream) batches.push(batch);
  return { columns: stream.columns, batches };
}

/**
 * Plans a SELECT now (throwing its planning errors) and runs it as its batches are pulled.
 * Stopping the iteration early stops the query and releases what it holds.
 */
export function executeSelectStream(
  engine: QueryEngine,
  database: string,
  statement: SelectStatement,
  options: QueryOptions = {},
): QueryStream {
  const { root, columns, context } = prepare(engine, database, statement, options);
  let started = false;
  return {
    columns,
    [Symbol.asyncIterator]() {
      if (started) throw new Error("a query result stream can be iterated only once");
      started = true;
      return root.execute(context);
    },
  };
}

/**
 * EXPLAIN [ANALYZE] of a SELECT: one string column `plan`, a row per line. ANALYZE runs the query
 * (discarding its rows) and reports rows and time per operator and what the scan read.
 */
export async function explain(
  engine: QueryEngine,
  database: string,
  statement: ExplainStatement,
  options: QueryOptions = {},
): Promise<QueryResult> {
  const inner = statement.statement;
  if (inner.kind !== "select") {
    throw new QueryPlanError(
      QueryPlanErrorCode.Unsupported,
      "EXPLAIN supports SELECT statements only",
      inner.pos,
    );
  }
  const { root, context } = prepare(engine, database, inner, options);
  let lines: string[];
  if (statement.analyze) {
    const started = performance.now();
    let rows = 0;
    for await (const batch of root.execute(context)) rows += batch.numRows;
    const totalMs = performance.now() - started;
    lines = formatOperatorTree(root, { totalMs, rows, peakMemoryBytes: context.memory.peakBytes });
  } else {
    lines = formatOperatorTree(root, undefined);
  }
  return {
    columns: [{ name: "plan", type: DataType.String }],
    batches: [
      {
        names: ["plan"],
        columns: [{ type: DataType.String, values: lines, validity: null }],
        numRows: lines.length,
      },
    ],
  };
}
