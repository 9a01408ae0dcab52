/**
 * Executes one SQL statement against the storage engine: SELECT and EXPLAIN through the query
 * engine, DDL through the engine's catalog, INSERT as a write, SHOW / DESCRIBE / EXISTS as small
 * results built from the catalog.
 */
import type { StorageEngine, TableInfo, WriteRows } from "../engine/index.js";
import {
  executeSelect,
  explain,
  QueryExecutionError,
  type CancellationSignal,
  type QueryOptions,
  type QueryResult,
} from "../query/index.js";
import {
  formatStatement,
  parseStatement,
  type AlterTableAddColumnsStatement,
  type ColumnDefinition,
  type CreateTableStatement,
  type Expr,
  type Identifier,
  type InsertStatement,
  type SourcePosition,
  type Statement,
  type TableName,
  type TableOption,
} from "../sql/index.js";
import { DataType, type CellValue } from "../table/data-type.js";
import { formatTableOptions } from "../table/options.js";
import { TableSchema, type ColumnSchemaInput } from "../table/schema.js";
import { evaluateConstants } from "./constants.js";
import { SqlExecutionError } from "./errors.js";
import { columnFromCells, rowsResult } from "./rows.js";

/** The only table engine; `ENGINE=` must name it (case-insensitive). */
export const ANALYTIC_ENGINE = "Analytic";

export interface SqlOptions {
  /** Wall-clock limit of a query, in ms; none when absent. */
  readonly timeoutMs?: number | undefined;
  /** Cancels the statement when aborted. */
  readonly signal?: CancellationSignal | undefined;
  /** Bytes that a query's aggregation and sort buffers may hold; unlimited when absent. */
  readonly memoryLimitBytes?: number | undefined;
  /** The clock of now(), ms since the epoch (default Date.now). */
  readonly now?: (() => number) | undefined;
}

/** Rows for statements that return some; the number of rows written or changed for the others. */
export type SqlOutcome =
  | { readonly kind: "rows"; readonly result: QueryResult }
  | { readonly kind: "affected"; readonly rows: number };

const NO_ORIGIN: SourcePosition = { line: 1, column: 1, offset: 0 };

/**
 * Parses and executes one statement in `database` (the default schema of unqualified tables).
 * Throws SqlSyntaxError, QueryPlanError, QueryExecutionError, SqlExecutionError, and the engine's
 * TableError / WriteError / SchemaError.
 */
export async function executeSql(
  engine: StorageEngine,
  database: string,
  sql: string,
  options: SqlOptions = {},
): Promise<SqlOutcome> {
  return executeStatement(engine, database, parseStatement(sql), options);
}

/** Executes a parsed statement; see executeSql. */
export async function executeStatement(
  engine: StorageEngine,
  database: string,
  statement: Statement,
  options: SqlOptions = {},
): Promise<SqlOutcome> {
  const queryOptions: QueryOptions = {
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    memoryLimitBytes: options.memoryLimitBytes,
    now: options.now,
  };
  const rows = (result: QueryResult): SqlOutcome => ({ kind: "rows", result });
  const affected = (n: number): SqlOutcome => ({ kind: "affected", rows: n });
  throwIfCancelled(options.signal);
  switch (statement.kind) {
    case "select":
      return rows(await executeSelect(engine, database, statement, queryOptions));
    case "explain":
      return rows(await explain(engine, database, statement, queryOptions));
    case "insert":
      return affected(await insert(engine, database, statement, queryOptions));
    case "createTable":
      await createTable(engine, database, statement, queryOptions);
      return affected(0);
    case "dropTable": {
      const { schema, name } = resolve(database, statement.table);
      await engine.dropTable(schema, name, statement.ifExists);
      return affected(0);
    }
    case "alterTableAddColumns":
      await addColumns(engine, database, statement, queryOptions);
      return affected(0);
    case "alterTableModifySetting": {
      const { schemaName, name } = requireTable(engine, database, statement.table);
      await engine.modifyOptions(schemaName, name, optionRecord(statement.options));
      return affected(0);
    }
    case "describeTable":
      return rows(describe(requireTable(engine, database, statement.table)));
    case "showTables":
      return rows(showTables(engine, database, statement.pattern));
    case "showCreateTable":
      return rows(showCreateTable(requireTable(engine, database, statement.table)));
    case "showDatabases":
      return rows(rowsResult([{ name: "Schemas", type: DataType.String }], [[database]]));
    case "existsTable": {
      const { schema, name } = resolve(database, statement.table);
      const exists = engine.table(schema, name) !== undefined;
      return rows(rowsResult([{ name: "result", type: DataType.Int32 }], [[exists ? 1 : 0]]));
    }
    default: {
      const unknown: never = statement;
      throw new TypeError(`unknown statement kind ${String((unknown as { kind: unknown }).kind)}`);
    }
  }
}

/** A statement cancelled before it changed anything fails like a cancelled query. */
function throwIfCancelled(signal: CancellationSignal | undefined): void {
  if (signal?.aborted !== true) return;
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error ? reason.message : String(reason);
  throw new QueryExecutionError("cancelled", `query was cancelled: ${detail}`);
}

function resolve(database: string, table: TableName): { schema: string; name: string } {
  return { schema: table.schema?.value ?? database, name: table.name.value };
}

function requireTable(engine: StorageEngine, database: string, table: TableName): TableInfo {
  const { schema, name } = resolve(database, table);
  const info = engine.table(schema, name);
  if (info === undefined) {
    throw new SqlExecutionError("not_found", `table ${schema}.${name} does not exist`, table.name.pos);
  }
  return info;
}

function optionRecord(options: readonly TableOption[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const option of options) record[option.name.value] = option.value;
  return record;
}

// ---- CREATE / ALTER ---------------------------------------------------------------------------

async function createTable(
  engine: StorageEngine,
  database: string,
  statement: CreateTableStatement,
  options: QueryOptions,
): Promise<void> {
  if (statement.partition !== undefined) {
    throw new SqlExecutionError(
      "invalid_argument",
      "partitioned tables are not supported in standalone mode yet",
      statement.partition.pos,
    );
  }
  const engineName = statement.engine;
  if (engineName !== undefined && engineName.value.toLowerCase() !== ANALYTIC_ENGINE.toLowerCase()) {
    throw new SqlExecutionError(
      "invalid_argument",
      `table engine "${engineName.value}" is not supported; the only engine is ${ANALYTIC_ENGINE}`,
      engineName.pos,
    );
  }
  const { schema: schemaName, name } = resolve(database, statement.table);
  if (statement.timestampKey === undefined) {
    throw new SqlExecutionError(
      "invalid_argument",
      "a table needs a TIMESTAMP KEY (or exactly one timestamp column)",
      statement.table.name.pos,
    );
  }
  const columns = await columnInputs(engine, database, statement.columns, options);
  const schema = TableSchema.create(
    {
      columns,
      timestampColumn: statement.timestampKey.value,
      ...(statement.primaryKey === undefined ? {} : { primaryKey: statement.primaryKey.map((k) => k.value) }),
    },
    `${schemaName}.${name}`,
  );
  await engine.createTable(schemaName, name, schema, optionRecord(statement.options), statement.ifNotExists);
}

async function addColumns(
  engine: StorageEngine,
  database: string,
  statement: AlterTableAddColumnsStatement,
  options: QueryOptions,
): Promise<void> {
  const { schemaName, name } = requireTable(engine, database, statement.table);
  const columns = await columnInputs(engine, database, statement.columns, options);
  await engine.addColumns(schemaName, name, columns);
}

/** Column definitions as schema input; DEFAULT expressions are evaluated to the column's type. */
async function columnInputs(
  engine: StorageEngine,
  database: string,
  definitions: readonly ColumnDefinition[],
  options: QueryOptions,
): Promise<ColumnSchemaInput[]> {
  const withDefault = definitions.filter((d) => d.default !== undefined);
  const defaults = await evaluateConstants(
    engine,
    database,
    withDefault.map((d) => ({ expr: d.default as Expr, type: d.type })),
    options,
  );
  const defaultOf = new Map(withDefault.map((d, i) => [d, defaults[i] ?? null]));
  return definitions.map((d) => ({
    name: d.name.value,
    type: d.type,
    isTag: d.isTag,
    ...(d.nullable === undefined ? {} : { nullable: d.nullable }),
    ...(defaultOf.has(d) ? { defaultValue: defaultOf.get(d) ?? null } : {}),
    ...(d.comment === undefined ? {} : { comment: d.comment }),
  }));
}

// ---- INSERT -----------------------------------------------------------------------------------

async function insert(
  engine: StorageEngine,
  database: string,
  statement: InsertStatement,
  options: QueryOptions,
): Promise<number> {
  const info = requireTable(engine, database, statement.table);
  const schema = info.schema;
  const names: readonly Identifier[] =
    statement.columns ??
    schema.columns
      .filter((c) => !(schema.hasTsid && c.name === schema.primaryKey[0]))
      .map((c) => ({ value: c.name, pos: statement.table.name.pos }));
  const seen = new Set<string>();
  const types = names.map((n) => {
    const column = schema.column(n.value);
    if (column === undefined || (schema.hasTsid && n.value === schema.primaryKey[0])) {
      throw new SqlExecutionError(
        "invalid_argument",
        `table ${info.schemaName}.${info.name} has no column "${n.value}"`,
        n.pos,
      );
    }
    if (seen.has(n.value)) {
      throw new SqlExecutionError("invalid_argument", `column "${n.value}" is listed twice`, n.pos);
    }
    seen.add(n.value);
    return column.type;
  });
  const expressions: { expr: Expr; type: DataType }[] = [];
  statement.rows.forEach((row, r) => {
    if (row.length !== names.length) {
      throw new SqlExecutionError(
        "invalid_argument",
        `row ${r + 1} has ${row.length} values but ${names.length} columns are inserted`,
        row[0]?.pos ?? statement.pos,
      );
    }
    row.forEach((expr, i) => expressions.push({ expr, type: types[i] as DataType }));
  });
  const cells = await evaluateConstants(engine, database, expressions, options);
  const numRows = statement.rows.length;
  const columns = names.map((_, i) => {
    const column: CellValue[] = [];
    for (let r = 0; r < numRows; r++) column.push(cells[r * names.length + i] ?? null);
    return columnFromCells(types[i] as DataType, column);
  });
  const rows: WriteRows = {
    batch: { names: names.map((n) => n.value), columns, numRows },
    tagNames: new Set(schema.tagColumns.map((c) => c.name)),
    timestampColumn: schema.timestampColumn,
  };
  throwIfCancelled(options.signal);
  const written = await engine.write(info.schemaName, info.name, rows, {
    autoCreateTable: false,
    autoAddColumns: false,
  });
  return written.rows;
}

// ---- DESCRIBE / SHOW --------------------------------------------------------------------------

function describe(info: TableInfo): QueryResult {
  const { schema } = info;
  return rowsResult(
    [
      { name: "name", type: DataType.String },
      { name: "type", type: DataType.String },
      { name: "is_primary", type: DataType.Boolean },
      { name: "is_nullable", type: DataType.Boolean },
      { name: "is_tag", type: DataType.Boolean },
      { name: "comment", type: DataType.String },
    ],
    schema.columns.map((c) => [
      c.name,
      c.type,
      schema.primaryKey.includes(c.name),
      c.nullable,
      c.isTag,
      c.comment,
    ]),
  );
}

function showTables(engine: StorageEngine, database: string, pattern: string | undefined): QueryResult {
  const matcher = pattern === undefined ? undefined : likePattern(pattern);
  const names = engine
    .tables(database)
    .map((t) => t.name)
    .filter((n) => matcher === undefined || matcher.test(n));
  return rowsResult(
    [{ name: "Tables", type: DataType.String }],
    names.map((n) => [n]),
  );
}

/** A LIKE pattern (`%` any run, `_` one character, `\` escapes) as an anchored RegExp. */
export function likePattern(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === "\\" && i + 1 < pattern.length) source += escapeRegExp(pattern[++i] as string);
    else if (ch === "%") source += "[\\s\\S]*";
    else if (ch === "_") source += "[\\s\\S]";
    else source += escapeRegExp(ch);
  }
  return new RegExp(`^${source}$`, "u");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

function showCreateTable(info: TableInfo): QueryResult {
  return rowsResult(
    [
      { name: "Table", type: DataType.String },
      { name: "Create Table", type: DataType.String },
    ],
    [[info.name, formatStatement(createStatementOf(info))]],
  );
}

/** The CREATE TABLE statement that makes a table with this schema and these options. */
export function createStatementOf(info: TableInfo): CreateTableStatement {
  const { schema } = info;
  const id = (value: string): Identifier => ({ value, pos: NO_ORIGIN });
  const keyed = new Set(schema.primaryKey);
  const columns: ColumnDefinition[] = schema.columns
    .filter((c) => !(schema.hasTsid && c.name === schema.primaryKey[0]))
    .map((c) => ({
      name: id(c.name),
      type: c.type,
      typePos: NO_ORIGIN,
      isTag: c.isTag,
      nullable: c.nullable || keyed.has(c.name) ? undefined : false,
      default: c.defaultValue === null ? undefined : literalOf(c.defaultValue),
      comment: c.comment.length > 0 ? c.comment : undefined,
    }));
  const options = Object.entries(formatTableOptions(info.options)).map(([name, value]): TableOption => ({
    name: id(name),
    value,
    valuePos: NO_ORIGIN,
  }));
  return {
    kind: "createTable",
    ifNotExists: false,
    table: { schema: undefined, name: id(info.name) },
    columns,
    timestampKey: id(schema.timestampColumn),
    primaryKey: schema.hasTsid ? undefined : schema.primaryKey.map(id),
    partition: undefined,
    engine: id(ANALYTIC_ENGINE),
    options,
    pos: NO_ORIGIN,
  };
}

function literalOf(value: Exclude<CellValue, null>): Expr {
  const pos = NO_ORIGIN;
  if (typeof value === "bigint") return { kind: "integer", value, pos };
  if (typeof value === "number") {
    return Number.isSafeInteger(value)
      ? { kind: "integer", value: BigInt(value), pos }
      : { kind: "float", value, pos };
  }
  if (typeof value === "boolean") return { kind: "boolean", value, pos };
  if (typeof value === "string") return { kind: "string", value, pos };
  return { kind: "string", value: new TextDecoder().decode(value), pos };
}
