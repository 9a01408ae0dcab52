/**
 * Turns syntax trees back into canonical SQL: upper-case keywords, names quoted only when they
 * must be, parentheses only where precedence needs them. Parsing the output gives the same tree
 * (apart from source positions), which EXPLAIN and SHOW CREATE TABLE rely on.
 */
import type {
  ColumnDefinition,
  Expr,
  Identifier,
  OrderByItem,
  SelectItem,
  SelectStatement,
  Statement,
  TableName,
  TableOption,
} from "./ast.js";
import { isReservedWord } from "./keywords.js";

const BARE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name as SQL: bare when it lexes back as itself, otherwise in backquotes. */
export function quoteIdentifier(name: string): string {
  if (BARE_IDENTIFIER.test(name) && !isReservedWord(name.toUpperCase())) return name;
  return "`" + name.replaceAll("`", "``") + "`";
}

export function quoteString(value: string): string {
  return "'" + value.replaceAll("'", "''") + "'";
}

function identifier(id: Identifier): string {
  return quoteIdentifier(id.value);
}

function tableName(t: TableName): string {
  return t.schema === undefined ? identifier(t.name) : `${identifier(t.schema)}.${identifier(t.name)}`;
}

/** A float that lexes back as a float: always with a fraction or an exponent. */
function formatFloat(value: number): string {
  if (Object.is(value, -0)) return "-0.0";
  const text = String(value);
  return /^-?\d+$/.test(text) ? `${text}.0` : text;
}

// Binding strength of each kind of expression, loosest first (see ExpressionParser).
const OR = 1;
const AND = 2;
const NOT = 3;
const COMPARISON = 4;
const ADDITIVE = 5;
const MULTIPLICATIVE = 6;
const UNARY = 7;
const PRIMARY = 8;

function precedenceOf(expr: Expr): number {
  switch (expr.kind) {
    case "binary":
      switch (expr.op) {
        case "OR":
          return OR;
        case "AND":
          return AND;
        case "+":
        case "-":
          return ADDITIVE;
        case "*":
        case "/":
        case "%":
          return MULTIPLICATIVE;
        default:
          return COMPARISON;
      }
    case "unary":
      return expr.op === "NOT" ? NOT : UNARY;
    case "is":
    case "inList":
    case "between":
    case "like":
      return COMPARISON;
    case "integer":
      return expr.value < 0n ? UNARY : PRIMARY;
    case "float":
      return expr.value < 0 || Object.is(expr.value, -0) ? UNARY : PRIMARY;
    default:
      return PRIMARY;
  }
}

/** The operand formatted, in parentheses if it binds less tightly than `min`. */
function operand(expr: Expr, min: number): string {
  const text = formatExpr(expr);
  return precedenceOf(expr) < min ? `(${text})` : text;
}

/** Formats an expression as canonical SQL. */
export function formatExpr(expr: Expr): string {
  switch (expr.kind) {
    case "integer":
      return expr.value.toString();
    case "float":
      return formatFloat(expr.value);
    case "string":
      return quoteString(expr.value);
    case "boolean":
      return expr.value ? "TRUE" : "FALSE";
    case "null":
      return "NULL";
    case "interval":
      return `INTERVAL ${quoteString(expr.text)}${expr.unit === undefined ? "" : ` ${expr.unit}`}`;
    case "timestamp":
      return `TIMESTAMP ${quoteString(expr.text)}`;
    case "column":
      return expr.table === undefined
        ? identifier(expr.name)
        : `${identifier(expr.table)}.${identifier(expr.name)}`;
    case "function": {
      const args = expr.wildcard ? "*" : expr.args.map(formatExpr).join(", ");
      return `${identifier(expr.name)}(${expr.distinct ? "DISTINCT " : ""}${args})`;
    }
    case "unary": {
      if (expr.op === "NOT") return `NOT ${operand(expr.operand, NOT)}`;
      const inner = operand(expr.operand, UNARY);
      // `- -x` must not become `--x` (a comment), and `-(5)` must not become the literal -5.
      const wrap = /^[-+]/.test(inner) || expr.operand.kind === "integer" || expr.operand.kind === "float";
      return `${expr.op}${wrap && !inner.startsWith("(") ? `(${inner})` : inner}`;
    }
    case "binary":
      // Left-associative: the right operand needs parentheses at equal precedence too.
      return `${operand(expr.left, precedenceOf(expr))} ${expr.op} ${operand(expr.right, precedenceOf(expr) + 1)}`;
    case "is":
      return `${operand(expr.expr, COMPARISON)} IS ${expr.negated ? "NOT " : ""}${expr.test}`;
    case "inList":
      return `${operand(expr.expr, COMPARISON)} ${expr.negated ? "NOT " : ""}IN (${expr.list.map(formatExpr).join(", ")})`;
    case "between":
      return (
        `${operand(expr.expr, COMPARISON)} ${expr.negated ? "NOT " : ""}BETWEEN ` +
        `${operand(expr.low, ADDITIVE)} AND ${operand(expr.high, ADDITIVE)}`
      );
    case "like":
      return (
        `${operand(expr.expr, COMPARISON)} ${expr.negated ? "NOT " : ""}` +
        `${expr.caseInsensitive ? "ILIKE" : "LIKE"} ${operand(expr.pattern, ADDITIVE)}`
      );
    case "cast":
      return `CAST(${formatExpr(expr.expr)} AS ${expr.type})`;
    case "case": {
      const parts = ["CASE"];
      if (expr.operand !== undefined) parts.push(formatExpr(expr.operand));
      for (const b of expr.branches) parts.push(`WHEN ${formatExpr(b.when)} THEN ${formatExpr(b.then)}`);
      if (expr.else !== undefined) parts.push(`ELSE ${formatExpr(expr.else)}`);
      parts.push("END");
      return parts.join(" ");
    }
    default: {
      const unknown: never = expr;
      throw new TypeError(`unknown expression kind ${String((unknown as { kind: unknown }).kind)}`);
    }
  }
}

function selectItem(item: SelectItem): string {
  if (item.kind === "wildcard") return item.table === undefined ? "*" : `${identifier(item.table)}.*`;
  const text = formatExpr(item.expr);
  return item.alias === undefined ? text : `${text} AS ${identifier(item.alias)}`;
}

function orderByItem(item: OrderByItem): string {
  let text = formatExpr(item.expr);
  if (item.direction !== undefined) text += ` ${item.direction}`;
  if (item.nulls !== undefined) text += ` NULLS ${item.nulls}`;
  return text;
}

function select(s: SelectStatement): string {
  let sql = `SELECT ${s.distinct ? "DISTINCT " : ""}${s.items.map(selectItem).join(", ")}`;
  if (s.from !== undefined) {
    sql += ` FROM ${tableName(s.from.table)}`;
    if (s.from.alias !== undefined) sql += ` AS ${identifier(s.from.alias)}`;
  }
  if (s.where !== undefined) sql += ` WHERE ${formatExpr(s.where)}`;
  if (s.groupBy.length > 0) sql += ` GROUP BY ${s.groupBy.map(formatExpr).join(", ")}`;
  if (s.having !== undefined) sql += ` HAVING ${formatExpr(s.having)}`;
  if (s.orderBy.length > 0) sql += ` ORDER BY ${s.orderBy.map(orderByItem).join(", ")}`;
  if (s.limit !== undefined) sql += ` LIMIT ${s.limit.value}`;
  if (s.offset !== undefined) sql += ` OFFSET ${s.offset.value}`;
  return sql;
}

/** A column definition as in CREATE TABLE, e.g. `host string TAG NOT NULL`. */
export function formatColumnDefinition(c: ColumnDefinition): string {
  let sql = `${identifier(c.name)} ${c.type}`;
  if (c.isTag) sql += " TAG";
  if (c.nullable !== undefined) sql += c.nullable ? " NULL" : " NOT NULL";
  if (c.default !== undefined) sql += ` DEFAULT ${formatExpr(c.default)}`;
  if (c.comment !== undefined) sql += ` COMMENT ${quoteString(c.comment)}`;
  return sql;
}

function optionList(options: readonly TableOption[]): string {
  return options.map((o) => `${identifier(o.name)}=${quoteString(o.value)}`).join(", ");
}

function nameList(names: readonly Identifier[]): string {
  return names.map(identifier).join(", ");
}

/** Formats a statement as canonical SQL (without a trailing semicolon). */
export function formatStatement(statement: Statement): string {
  switch (statement.kind) {
    case "select":
      return select(statement);
    case "insert": {
      const columns = statement.columns === undefined ? "" : ` (${nameList(statement.columns)})`;
      const rows = statement.rows.map((row) => `(${row.map(formatExpr).join(", ")})`).join(", ");
      return `INSERT INTO ${tableName(statement.table)}${columns} VALUES ${rows}`;
    }
    case "createTable": {
      const elements = statement.columns.map(formatColumnDefinition);
      if (statement.timestampKey !== undefined)
        elements.push(`TIMESTAMP KEY(${identifier(statement.timestampKey)})`);
      if (statement.primaryKey !== undefined) elements.push(`PRIMARY KEY(${nameList(statement.primaryKey)})`);
      let sql = `CREATE TABLE ${statement.ifNotExists ? "IF NOT EXISTS " : ""}${tableName(statement.table)}`;
      sql += ` (${elements.join(", ")})`;
      const p = statement.partition;
      if (p !== undefined) sql += ` PARTITION BY KEY(${nameList(p.columns)}) PARTITIONS ${p.count}`;
      if (statement.engine !== undefined) sql += ` ENGINE=${identifier(statement.engine)}`;
      if (statement.options.length > 0) sql += ` WITH (${optionList(statement.options)})`;
      return sql;
    }
    case "dropTable":
      return `DROP TABLE ${statement.ifExists ? "IF EXISTS " : ""}${tableName(statement.table)}`;
    case "alterTableAddColumns": {
      const columns = statement.columns.map(formatColumnDefinition);
      const added = columns.length === 1 ? (columns[0] ?? "") : `(${columns.join(", ")})`;
      return `ALTER TABLE ${tableName(statement.table)} ADD COLUMN ${added}`;
    }
    case "alterTableModifySetting":
      return `ALTER TABLE ${tableName(statement.table)} MODIFY SETTING ${optionList(statement.options)}`;
    case "describeTable":
      return `DESCRIBE ${tableName(statement.table)}`;
    case "showTables":
      return statement.pattern === undefined
        ? "SHOW TABLES"
        : `SHOW TABLES LIKE ${quoteString(statement.pattern)}`;
    case "showCreateTable":
      return `SHOW CREATE TABLE ${tableName(statement.table)}`;
    case "showDatabases":
      return "SHOW DATABASES";
    case "existsTable":
      return `EXISTS TABLE ${tableName(statement.table)}`;
    case "explain":
      return `EXPLAIN ${statement.analyze ? "ANALYZE " : ""}${formatStatement(statement.statement)}`;
    default: {
      const unknown: never = statement;
      throw new TypeError(`unknown statement kind ${String((unknown as { kind: unknown }).kind)}`);
    }
  }
}
