/**
 * Plans a SELECT statement: binds its names and expressions, splits aggregation from the
 * expressions over its results, pushes what it can of WHERE into the scan, reads only the columns
 * the query uses, and lays out the chain of logical plan nodes.
 */
import type { TableInfo } from "../engine/index.js";
import { formatExpr, type IntegerLiteral, type SelectStatement, type SourcePosition } from "../sql/index.js";
import { DataType } from "../table/data-type.js";
import type { TableSchema } from "../table/schema.js";
import { AGGREGATES_ALLOWED, ExpressionBinder, type BindSource } from "./binder.js";
import {
  containsAggregate,
  exprKey,
  mapChildren,
  referencedColumns,
  transformExpr,
  walkExpr,
  type AggregateExpr,
  type BoundExpr,
  type ColumnExpr,
} from "./bound-expr.js";
import { QueryPlanError, QueryPlanErrorCode as Code } from "./errors.js";
import { describeExpr } from "./expr-format.js";
import type { AggregateCall, LogicalPlan, SortKey } from "./logical-plan.js";
import { extractPushdown } from "./pushdown.js";
import { makeField, type ExprType, type Field } from "./types.js";

/** Where the planner finds tables: the storage engine, or anything that knows tables the same way. */
export interface TableCatalog {
  table(database: string, name: string): Pick<TableInfo, "schema"> | undefined;
}

export interface PlanOptions {
  /** now() of this query, in ms since the epoch. */
  readonly nowMs: number;
}

/** A select-list entry: its output name and its expression over the table's columns. */
interface OutputItem {
  readonly name: string;
  readonly expr: BoundExpr;
  readonly pos: SourcePosition;
}

/** An ORDER BY entry: an output column (by name or position) or an expression. */
type OrderTarget =
  | { readonly output: number; readonly pos: SourcePosition }
  | { readonly expr: BoundExpr; readonly pos: SourcePosition };

const MAX_ROWS = Number.MAX_SAFE_INTEGER;

/** The logical plan of `statement`; its last node's fields are the result's columns. */
export function planSelect(
  catalog: TableCatalog,
  database: string,
  statement: SelectStatement,
  options: PlanOptions,
): LogicalPlan {
  const from = resolveFrom(catalog, database, statement);
  const binder = new ExpressionBinder({ source: from?.source, nowMs: options.nowMs });
  const items = bindSelectList(statement, binder, from?.source);

  const where =
    statement.where === undefined
      ? undefined
      : binder.bindCondition(statement.where, "WHERE", { allowed: false, clause: "WHERE" });
  const groupKeys = bindGroupBy(statement, binder, items);
  const orderTargets = bindOrderBy(statement, binder, items);
  const having =
    statement.having === undefined
      ? undefined
      : binder.bindCondition(statement.having, "HAVING", AGGREGATES_ALLOWED);

  const isAggregation =
    groupKeys.length > 0 ||
    having !== undefined ||
    items.some((i) => containsAggregate(i.expr)) ||
    orderTargets.some((t) => "expr" in t && containsAggregate(t.expr));

  // Expressions evaluated on the rows the scan (or the single row of no FROM) produces.
  let rowWhere = where;
  let rowKeys = groupKeys.map((k) => k.expr);
  let aggregates: AggregateExpr[] = [];
  // Expressions evaluated on the rows that come out of the aggregation, if any.
  let projectExprs = items.map((i) => i.expr);
  let orderExprs = orderTargets.map((t) => ("expr" in t ? t.expr : undefined));
  let havingExpr = having;
  let aggregateFields: Field[] = [];

  if (isAggregation) {
    const rewriter = new AggregationRewriter(groupKeys);
    projectExprs = projectExprs.map((e) => rewriter.rewrite(e));
    orderExprs = orderExprs.map((e) => (e === undefined ? undefined : rewriter.rewrite(e)));
    havingExpr = having === undefined ? undefined : rewriter.rewrite(having);
    rowKeys = rewriter.keys;
    aggregates = rewriter.aggregates;
    aggregateFields = rewriter.fields(from?.source.fields ?? []);
  }

  // Read only the columns the row-level expressions use, in table order.
  let input: LogicalPlan;
  if (from === undefined) {
    input = { kind: "values", fields: [] };
  } else {
    const fields = from.source.fields;
    const used = new Set<number>();
    if (rowWhere !== undefined) referencedColumns(rowWhere, used);
    const rowLevel = isAggregation ? [...rowKeys, ...aggregates] : [...projectExprs, ...orderExprs];
    for (const e of rowLevel) if (e !== undefined) referencedColumns(e, used);
    const projection = [...used].sort((a, b) => a - b);
    const mapping = new Map(projection.map((old, i) => [old, i]));
    const remap = (e: BoundExpr) =>
      transformExpr(e, (n) => (n.kind === "column" ? { ...n, index: mapping.get(n.index) as number } : n));
    const pushdown = extractPushdown(where, fields, from.info.schema);
    rowWhere = rowWhere === undefined ? undefined : remap(rowWhere);
    if (isAggregation) {
      rowKeys = rowKeys.map(remap);
      aggregates = aggregates.map((a) => remap(a) as AggregateExpr);
    } else {
      projectExprs = projectExprs.map(remap);
      orderExprs = orderExprs.map((e) => (e === undefined ? undefined : remap(e)));
    }
    const scanFields = projection.map((i) => fields[i] as Field);
    const lastPerSeries =
      isAggregation && (where === undefined || pushdown.exact)
        ? lastPerSeriesOf(rowKeys, aggregates, scanFields, from.info.schema)
        : undefined;
    input = {
      kind: "scan",
      database: from.database,
      table: from.source.name,
      schema: from.info.schema,
      projection: scanFields.map((f) => f.name),
      timeRange: pushdown.timeRange,
      tagFilter: pushdown.tagFilter,
      ...(lastPerSeries === undefined ? {} : { lastPerSeries }),
      fields: scanFields,
    };
  }

  let plan: LogicalPlan = input;
  if (rowWhere !== undefined)
    plan = { kind: "filter", input: plan, predicate: rowWhere, clause: "WHERE", fields: plan.fields };
  if (isAggregation) {
    const calls: AggregateCall[] = aggregates.map((a) => ({
      fn: a.fn,
      args: a.args,
      distinct: a.distinct,
      display: describeExpr(a),
    }));
    plan = {
      kind: "aggregate",
      input: plan,
      groupKeys: rowKeys,
      aggregates: calls,
      distinct: false,
      fields: aggregateFields,
    };
    if (havingExpr !== undefined) {
      plan = { kind: "filter", input: plan, predicate: havingExpr, clause: "HAVING", fields: plan.fields };
    }
  }

  // ORDER BY expressions not in the select list are computed as hidden columns, dropped at the end.
  const outputFields: Field[] = items.map((item, i) => {
    const expr = projectExprs[i] as BoundExpr;
    return makeField(item.name, fieldType(expr), isTagColumn(expr, plan.fields));
  });
  const projectFields = [...outputFields];
  const sortKeys: SortKey[] = orderTargets.map((target, i) => {
    const order = statement.orderBy[i];
    const descending = order?.direction === "DESC";
    // NULLs sort as larger than every value (PostgreSQL): last ascending, first descending.
    const nullsFirst = order?.nulls === undefined ? descending : order.nulls === "FIRST";
    let index: number;
    if ("output" in target) {
      index = target.output;
    } else {
      const expr = orderExprs[i] as BoundExpr;
      const key = exprKey(expr);
      index = projectExprs.findIndex((e) => exprKey(e) === key);
      if (index < 0) {
        if (statement.distinct) {
          throw new QueryPlanError(
            Code.InvalidArguments,
            "for SELECT DISTINCT, ORDER BY expressions must appear in the select list",
            target.pos,
          );
        }
        index = projectExprs.length;
        projectExprs = [...projectExprs, expr];
        projectFields.push({ name: describeExpr(expr), type: fieldType(expr) });
      }
    }
    const field = projectFields[index] as Field;
    const column: ColumnExpr = { kind: "column", index, name: field.name, type: field.type, pos: target.pos };
    return { expr: column, descending, nullsFirst };
  });
  plan = { kind: "project", input: plan, exprs: projectExprs, fields: projectFields };

  if (statement.distinct) {
    const keys = outputFields.map((f, index): ColumnExpr => ({
      kind: "column",
      index,
      name: f.name,
      type: f.type,
      pos: undefined,
    }));
    plan = {
      kind: "aggregate",
      input: plan,
      groupKeys: keys,
      aggregates: [],
      distinct: true,
      fields: outputFields,
    };
  }

  const offset = rowCount(statement.offset, "OFFSET") ?? 0;
  const limit = rowCount(statement.limit, "LIMIT");
  if (sortKeys.length > 0) {
    const fetch = limit === undefined ? undefined : Math.min(MAX_ROWS, offset + limit);
    plan = { kind: "sort", input: plan, keys: sortKeys, fetch, fields: plan.fields };
  }
  if (limit !== undefined || offset > 0)
    plan = { kind: "limit", input: plan, offset, limit, fields: plan.fields };
  if (plan.fields.length > outputFields.length) {
    const exprs = outputFields.map((f, index): ColumnExpr => ({
      kind: "column",
      index,
      name: f.name,
      type: f.type,
      pos: undefined,
    }));
    plan = { kind: "project", input: plan, exprs, fields: outputFields };
  }
  return plan;
}

/**
 * The scan's lastPerSeries columns when the aggregation only needs each series' last rows: every
 * group key is a TAG column, and every aggregate is last() of a plain column (expressions over the
 * scan's fields, after remapping). The WHERE clause, if any, must be wholly pushed into the scan.
 */
function lastPerSeriesOf(
  keys: readonly BoundExpr[],
  aggregates: readonly AggregateExpr[],
  scanFields: readonly Field[],
  schema: TableSchema,
): { columns: string[] } | undefined {
  if (aggregates.length === 0) return undefined;
  for (const key of keys) {
    if (key.kind !== "column") return undefined;
    const name = scanFields[key.index]?.name;
    if (name === undefined || schema.column(name)?.isTag !== true) return undefined;
  }
  const columns: string[] = [];
  for (const aggregate of aggregates) {
    const [arg, ts] = aggregate.args;
    if (aggregate.fn !== "last" || aggregate.distinct || arg?.kind !== "column") return undefined;
    if (ts?.kind !== "column" || scanFields[ts.index]?.name !== schema.timestampColumn) return undefined;
    const name = scanFields[arg.index]?.name;
    if (name === undefined) return undefined;
    if (!columns.includes(name)) columns.push(name);
  }
  return { columns };
}

interface ResolvedFrom {
  readonly database: string;
  readonly info: Pick<TableInfo, "schema">;
  readonly source: BindSource;
}

function resolveFrom(
  catalog: TableCatalog,
  database: string,
  statement: SelectStatement,
): ResolvedFrom | undefined {
  const from = statement.from;
  if (from === undefined) return undefined;
  const db = from.table.schema?.value ?? database;
  const name = from.table.name.value;
  const info = catalog.table(db, name);
  if (info === undefined) {
    throw new QueryPlanError(
      Code.UnknownTable,
      `table "${name}" does not exist in database ${db}`,
      from.table.name.pos,
    );
  }
  const { schema } = info;
  const fields = schema.columns.map((c) => makeField(c.name, c.type, c.isTag));
  return {
    database: db,
    info,
    source: {
      name,
      alias: from.alias?.value,
      fields,
      timestampIndex: schema.indexOf(schema.timestampColumn) as number,
    },
  };
}

function bindSelectList(
  statement: SelectStatement,
  binder: ExpressionBinder,
  source: BindSource | undefined,
): OutputItem[] {
  const items: OutputItem[] = [];
  for (const item of statement.items) {
    if (item.kind === "wildcard") {
      if (source === undefined)
        throw new QueryPlanError(Code.Unsupported, "SELECT * needs a FROM clause", item.pos);
      const qualifier = item.table?.value;
      if (qualifier !== undefined && qualifier !== source.name && qualifier !== source.alias) {
        throw new QueryPlanError(
          Code.UnknownQualifier,
          `table "${qualifier}" is not in FROM`,
          item.table?.pos ?? item.pos,
        );
      }
      source.fields.forEach((f, index) =>
        items.push({ name: f.name, expr: binder.columnExpr(index, item.pos), pos: item.pos }),
      );
      continue;
    }
    const expr = binder.bind(item.expr, AGGREGATES_ALLOWED);
    requireValueType(expr, item.expr.pos);
    const name =
      item.alias?.value ?? (item.expr.kind === "column" ? item.expr.name.value : formatExpr(item.expr));
    items.push({ name, expr, pos: item.expr.pos });
  }
  return items;
}

interface GroupKey {
  readonly name: string;
  readonly expr: BoundExpr;
}

/** GROUP BY entries: a column of the table, else a select-list alias, or a position (1-based). */
function bindGroupBy(
  statement: SelectStatement,
  binder: ExpressionBinder,
  items: readonly OutputItem[],
): GroupKey[] {
  return statement.groupBy.map((ast): GroupKey => {
    const fromItem = (item: OutputItem, what: string): GroupKey => {
      if (containsAggregate(item.expr)) {
        throw new QueryPlanError(
          Code.MisplacedAggregate,
          `${what} refers to an aggregate; aggregates are not allowed in GROUP BY`,
          ast.pos,
        );
      }
      return { name: item.name, expr: item.expr };
    };
    if (ast.kind === "integer")
      return fromItem(selectItemAt(items, ast, "GROUP BY"), `GROUP BY position ${ast.value}`);
    if (ast.kind === "column" && ast.table === undefined && binder.findColumn(ast.name.value) === undefined) {
      const aliased = items.find((i) => i.name === ast.name.value);
      if (aliased !== undefined) return fromItem(aliased, `GROUP BY "${ast.name.value}"`);
    }
    const expr = binder.bind(ast, { allowed: false, clause: "GROUP BY" });
    requireValueType(expr, ast.pos);
    return { name: ast.kind === "column" ? ast.name.value : formatExpr(ast), expr };
  });
}

/** ORDER BY entries: a position (1-based), an output column's name, or an expression. */
function bindOrderBy(
  statement: SelectStatement,
  binder: ExpressionBinder,
  items: readonly OutputItem[],
): OrderTarget[] {
  return statement.orderBy.map(({ expr: ast }): OrderTarget => {
    if (ast.kind === "integer")
      return { output: items.indexOf(selectItemAt(items, ast, "ORDER BY")), pos: ast.pos };
    if (ast.kind === "column" && ast.table === undefined) {
      const matches = items.flatMap((item, i) => (item.name === ast.name.value ? [i] : []));
      const distinct = new Set(matches.map((i) => exprKey((items[i] as OutputItem).expr)));
      if (distinct.size > 1) {
        throw new QueryPlanError(Code.AmbiguousColumn, `ORDER BY "${ast.name.value}" is ambiguous`, ast.pos);
      }
      if (matches[0] !== undefined) return { output: matches[0], pos: ast.pos };
    }
    const expr = binder.bind(ast, AGGREGATES_ALLOWED);
    requireValueType(expr, ast.pos);
    return { expr, pos: ast.pos };
  });
}

function selectItemAt(items: readonly OutputItem[], ast: IntegerLiteral, clause: string): OutputItem {
  const item =
    ast.value >= 1n && ast.value <= BigInt(items.length) ? items[Number(ast.value) - 1] : undefined;
  if (item === undefined) {
    throw new QueryPlanError(
      Code.InvalidValue,
      `${clause} position ${ast.value} is not in the select list (it has ${items.length} column${items.length === 1 ? "" : "s"})`,
      ast.pos,
    );
  }
  return item;
}

function requireValueType(expr: BoundExpr, pos: SourcePosition): void {
  if (expr.type === "interval") {
    throw new QueryPlanError(
      Code.TypeMismatch,
      "an interval is not a value of its own; add it to or subtract it from a timestamp",
      pos,
    );
  }
}

function fieldType(expr: BoundExpr): DataType {
  return typeOfResult(expr.type);
}

function typeOfResult(type: ExprType): DataType {
  // A bare NULL is a string column of NULLs (PostgreSQL's text); intervals never get here.
  return type === "null" || type === "interval" ? DataType.String : type;
}

function rowCount(literal: IntegerLiteral | undefined, clause: string): number | undefined {
  if (literal === undefined) return undefined;
  if (literal.value < 0n)
    throw new QueryPlanError(Code.InvalidValue, `${clause} must not be negative`, literal.pos);
  return literal.value > BigInt(MAX_ROWS) ? MAX_ROWS : Number(literal.value);
}

/**
 * Splits expressions of an aggregating query: the GROUP BY keys and aggregate calls are computed
 * per group by the Aggregate node; the rest is rewritten to read the Aggregate's output, where a
 * column that is neither a key nor inside an aggregate has no value.
 */
class AggregationRewriter {
  readonly keys: BoundExpr[] = [];
  readonly #keyNames: string[] = [];
  readonly #keyIndex = new Map<string, number>();
  readonly aggregates: AggregateExpr[] = [];
  readonly #aggregateIndex = new Map<string, number>();

  constructor(groupKeys: readonly GroupKey[]) {
    for (const key of groupKeys) {
      const k = exprKey(key.expr);
      if (this.#keyIndex.has(k)) continue;
      this.#keyIndex.set(k, this.keys.length);
      this.keys.push(key.expr);
      this.#keyNames.push(key.name);
    }
  }

  /** The output fields: the keys (bound over `sourceFields`), then the aggregates. */
  fields(sourceFields: readonly Field[]): Field[] {
    return [
      ...this.keys.map((k, i) =>
        makeField(this.#keyNames[i] as string, fieldType(k), isTagColumn(k, sourceFields)),
      ),
      ...this.aggregates.map((a) => ({ name: describeExpr(a), type: a.type })),
    ];
  }

  rewrite(expr: BoundExpr): BoundExpr {
    // Register every aggregate first, so that output positions do not depend on rewrite order.
    walkExpr(expr, (e) => {
      if (e.kind !== "aggregate") return;
      const k = exprKey(e);
      if (!this.#aggregateIndex.has(k)) {
        this.#aggregateIndex.set(k, this.aggregates.length);
        this.aggregates.push(e);
      }
    });
    return this.#rewrite(expr);
  }

  #rewrite(expr: BoundExpr): BoundExpr {
    const numKeys = this.keys.length;
    const k = exprKey(expr);
    const keyIndex = this.#keyIndex.get(k);
    if (keyIndex !== undefined)
      return this.#ref(keyIndex, this.#keyNames[keyIndex] as string, this.keys[keyIndex] as BoundExpr);
    if (expr.kind === "aggregate") {
      const index = this.#aggregateIndex.get(k) as number;
      return this.#ref(numKeys + index, describeExpr(expr), expr);
    }
    if (expr.kind === "column") {
      throw new QueryPlanError(
        Code.NotGrouped,
        `column "${expr.name}" must appear in the GROUP BY clause or be used in an aggregate function`,
        expr.pos ?? { offset: 0, line: 1, column: 1 },
      );
    }
    return mapChildren(expr, (child) => this.#rewrite(child));
  }

  #ref(index: number, name: string, of: BoundExpr): ColumnExpr {
    return { kind: "column", index, name, type: fieldType(of), pos: undefined };
  }
}

/** Whether `expr` is a bare reference to a TAG column of `input` (the fields it is bound over). */
function isTagColumn(expr: BoundExpr, input: readonly Field[]): boolean {
  return expr.kind === "column" && input[expr.index]?.tag === true;
}
