/**
 * The typed syntax tree of a SQL statement. Every node that a later stage may need to blame in an
 * error (names, literals, function calls, operators, statements) carries the `pos` where it starts.
 * Names keep the case they were written in; keywords are case-insensitive and not kept.
 */
import type { DataType } from "../table/data-type.js";
import type { SourcePosition } from "./tokens.js";

/** A name (of a table, column, function, alias or option), bare or quoted, quotes removed. */
export interface Identifier {
  readonly value: string;
  readonly pos: SourcePosition;
}

/** A table, optionally qualified by its schema: `cpu` or `public.cpu`. */
export interface TableName {
  readonly schema: Identifier | undefined;
  readonly name: Identifier;
}

// ---------------------------------------------------------------------------------------------------
// Expressions

/**
 * An integer written with digits only. Kept exact as a bigint, so every int64 and uint64 value
 * survives; a minus sign before it is folded in (`-9223372036854775808` is one literal).
 */
export interface IntegerLiteral {
  readonly kind: "integer";
  readonly value: bigint;
  readonly pos: SourcePosition;
}

/** A number with a fraction or an exponent (`1.5`, `.5`, `1e9`); a minus sign is folded in. */
export interface FloatLiteral {
  readonly kind: "float";
  readonly value: number;
  readonly pos: SourcePosition;
}

export interface StringLiteral {
  readonly kind: "string";
  readonly value: string;
  readonly pos: SourcePosition;
}

export interface BooleanLiteral {
  readonly kind: "boolean";
  readonly value: boolean;
  readonly pos: SourcePosition;
}

export interface NullLiteral {
  readonly kind: "null";
  readonly pos: SourcePosition;
}

/** The unit after an interval's string in the `INTERVAL '1' HOUR` form. */
export type IntervalUnit = "MILLISECOND" | "SECOND" | "MINUTE" | "HOUR" | "DAY" | "WEEK" | "MONTH" | "YEAR";

/**
 * `INTERVAL '1 hour 30 minutes'` or `INTERVAL '5' MINUTE`. The length is split into calendar
 * months (a month has no fixed length) and milliseconds; `text` and `unit` are kept as written.
 */
export interface IntervalLiteral {
  readonly kind: "interval";
  readonly text: string;
  readonly unit: IntervalUnit | undefined;
  readonly months: number;
  readonly milliseconds: number;
  readonly pos: SourcePosition;
}

/** `TIMESTAMP '2024-01-01 00:00:00'` (UTC unless the text has an offset); `value` in epoch ms. */
export interface TimestampLiteral {
  readonly kind: "timestamp";
  readonly text: string;
  readonly value: number;
  readonly pos: SourcePosition;
}

export type Literal =
  | IntegerLiteral
  | FloatLiteral
  | StringLiteral
  | BooleanLiteral
  | NullLiteral
  | IntervalLiteral
  | TimestampLiteral;

/** A column, optionally qualified by a table name or alias: `usage`, `cpu.usage`. */
export interface ColumnRef {
  readonly kind: "column";
  readonly table: Identifier | undefined;
  readonly name: Identifier;
  readonly pos: SourcePosition;
}

/**
 * A call of any function by name; the planner decides which names exist. `count(*)` has
 * `wildcard` set and no arguments; `count(DISTINCT x)` has `distinct` set.
 */
export interface FunctionCall {
  readonly kind: "function";
  readonly name: Identifier;
  readonly args: readonly Expr[];
  readonly distinct: boolean;
  readonly wildcard: boolean;
  readonly pos: SourcePosition;
}

export type UnaryOperator = "-" | "+" | "NOT";

export interface UnaryExpr {
  readonly kind: "unary";
  readonly op: UnaryOperator;
  readonly operand: Expr;
  readonly pos: SourcePosition;
}

/** `<>` is read as `!=`. */
export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=";
export type ArithmeticOperator = "+" | "-" | "*" | "/" | "%";
export type BinaryOperator = "OR" | "AND" | ComparisonOperator | ArithmeticOperator;

/** A binary operation; `pos` is where the operator is. */
export interface BinaryExpr {
  readonly kind: "binary";
  readonly op: BinaryOperator;
  readonly left: Expr;
  readonly right: Expr;
  readonly pos: SourcePosition;
}

/** `x IS [NOT] NULL | TRUE | FALSE`; `pos` is where IS is. */
export interface IsExpr {
  readonly kind: "is";
  readonly expr: Expr;
  readonly test: "NULL" | "TRUE" | "FALSE";
  readonly negated: boolean;
  readonly pos: SourcePosition;
}

/** `x [NOT] IN (a, b, ...)`; `pos` is where IN (or NOT) is. */
export interface InListExpr {
  readonly kind: "inList";
  readonly expr: Expr;
  readonly list: readonly Expr[];
  readonly negated: boolean;
  readonly pos: SourcePosition;
}

/** `x [NOT] BETWEEN low AND high` (both bounds inclusive); `pos` is where BETWEEN (or NOT) is. */
export interface BetweenExpr {
  readonly kind: "between";
  readonly expr: Expr;
  readonly low: Expr;
  readonly high: Expr;
  readonly negated: boolean;
  readonly pos: SourcePosition;
}

/** `x [NOT] LIKE pattern` or `ILIKE` (case-insensitive); `pos` is where LIKE (or NOT) is. */
export interface LikeExpr {
  readonly kind: "like";
  readonly expr: Expr;
  readonly pattern: Expr;
  readonly negated: boolean;
  readonly caseInsensitive: boolean;
  readonly pos: SourcePosition;
}

/** `CAST(x AS type)`, also written `x::type`. */
export interface CastExpr {
  readonly kind: "cast";
  readonly expr: Expr;
  readonly type: DataType;
  readonly pos: SourcePosition;
}

export interface CaseBranch {
  readonly when: Expr;
  readonly then: Expr;
}

/** `CASE [operand] WHEN .. THEN .. [ELSE ..] END`; with an operand, each WHEN is compared to it. */
export interface CaseExpr {
  readonly kind: "case";
  readonly operand: Expr | undefined;
  readonly branches: readonly CaseBranch[];
  readonly else: Expr | undefined;
  readonly pos: SourcePosition;
}

export type Expr =
  | Literal
  | ColumnRef
  | FunctionCall
  | UnaryExpr
  | BinaryExpr
  | IsExpr
  | InListExpr
  | BetweenExpr
  | LikeExpr
  | CastExpr
  | CaseExpr;

// ---------------------------------------------------------------------------------------------------
// SELECT

/** `*` or `t.*` in a select list. */
export interface WildcardItem {
  readonly kind: "wildcard";
  readonly table: Identifier | undefined;
  readonly pos: SourcePosition;
}

/** An expression in a select list, with its alias (`AS name` or just `name`). */
export interface ExprItem {
  readonly kind: "expr";
  readonly expr: Expr;
  readonly alias: Identifier | undefined;
}

export type SelectItem = WildcardItem | ExprItem;

export interface FromTable {
  readonly table: TableName;
  readonly alias: Identifier | undefined;
}

export interface OrderByItem {
  readonly expr: Expr;
  /** As written; undefined means the default (ascending). */
  readonly direction: "ASC" | "DESC" | undefined;
  /** As written; undefined means the default of the direction. */
  readonly nulls: "FIRST" | "LAST" | undefined;
}

export interface SelectStatement {
  readonly kind: "select";
  readonly distinct: boolean;
  readonly items: readonly SelectItem[];
  /** Undefined for `SELECT 1 + 1`, `SELECT now()`. */
  readonly from: FromTable | undefined;
  readonly where: Expr | undefined;
  readonly groupBy: readonly Expr[];
  readonly having: Expr | undefined;
  readonly orderBy: readonly OrderByItem[];
  /** `LIMIT n`; `LIMIT m, n` sets limit n and offset m. */
  readonly limit: IntegerLiteral | undefined;
  readonly offset: IntegerLiteral | undefined;
  readonly pos: SourcePosition;
}

// ---------------------------------------------------------------------------------------------------
// Other statements

export interface InsertStatement {
  readonly kind: "insert";
  readonly table: TableName;
  /** The column list, or undefined when the rows give every column in table order. */
  readonly columns: readonly Identifier[] | undefined;
  /** One list of expressions per row; rows are not checked for equal length here. */
  readonly rows: readonly (readonly Expr[])[];
  readonly pos: SourcePosition;
}

/** A column in CREATE TABLE or ALTER TABLE ADD COLUMN. */
export interface ColumnDefinition {
  readonly name: Identifier;
  readonly type: DataType;
  /** Where the type name is, to blame a type that the column's role does not allow. */
  readonly typePos: SourcePosition;
  readonly isTag: boolean;
  /** `NULL` -> true, `NOT NULL` -> false, neither -> undefined (the planner's default). */
  readonly nullable: boolean | undefined;
  readonly default: Expr | undefined;
  readonly comment: string | undefined;
}

/** `k='v'` in `WITH (...)` or `MODIFY SETTING`; string, number and boolean values read as text. */
export interface TableOption {
  readonly name: Identifier;
  readonly value: string;
  readonly valuePos: SourcePosition;
}

/** `PARTITION BY KEY(col, ...) PARTITIONS n`; n is 1 when PARTITIONS is left out. */
export interface KeyPartition {
  readonly kind: "key";
  readonly columns: readonly Identifier[];
  readonly count: number;
  readonly pos: SourcePosition;
}

export interface CreateTableStatement {
  readonly kind: "createTable";
  readonly ifNotExists: boolean;
  readonly table: TableName;
  readonly columns: readonly ColumnDefinition[];
  /**
   * From `TIMESTAMP KEY(col)` or a column's own `TIMESTAMP KEY`; when neither is written and
   * exactly one column has type timestamp, that column (as HoraeDB does). Otherwise undefined.
   */
  readonly timestampKey: Identifier | undefined;
  /** `PRIMARY KEY(a, b)`; undefined means the default `(tsid, timestamp)`. */
  readonly primaryKey: readonly Identifier[] | undefined;
  readonly partition: KeyPartition | undefined;
  /** `ENGINE=name` as written; undefined means the default (Analytic). */
  readonly engine: Identifier | undefined;
  readonly options: readonly TableOption[];
  readonly pos: SourcePosition;
}

export interface DropTableStatement {
  readonly kind: "dropTable";
  readonly ifExists: boolean;
  readonly table: TableName;
  readonly pos: SourcePosition;
}

export interface AlterTableAddColumnsStatement {
  readonly kind: "alterTableAddColumns";
  readonly table: TableName;
  readonly columns: readonly ColumnDefinition[];
  readonly pos: SourcePosition;
}

export interface AlterTableModifySettingStatement {
  readonly kind: "alterTableModifySetting";
  readonly table: TableName;
  readonly options: readonly TableOption[];
  readonly pos: SourcePosition;
}

/** `DESCRIBE [TABLE] t` or `DESC [TABLE] t`. */
export interface DescribeTableStatement {
  readonly kind: "describeTable";
  readonly table: TableName;
  readonly pos: SourcePosition;
}

export interface ShowTablesStatement {
  readonly kind: "showTables";
  /** The LIKE pattern (`%` and `_` wildcards), or undefined for all tables. */
  readonly pattern: string | undefined;
  readonly pos: SourcePosition;
}

export interface ShowCreateTableStatement {
  readonly kind: "showCreateTable";
  readonly table: TableName;
  readonly pos: SourcePosition;
}

export interface ShowDatabasesStatement {
  readonly kind: "showDatabases";
  readonly pos: SourcePosition;
}

/** `EXISTS [TABLE] t`: one row telling whether the table exists. */
export interface ExistsTableStatement {
  readonly kind: "existsTable";
  readonly table: TableName;
  readonly pos: SourcePosition;
}

export interface ExplainStatement {
  readonly kind: "explain";
  /** `EXPLAIN ANALYZE`: run the statement and report what each step did. */
  readonly analyze: boolean;
  readonly statement: ExplainableStatement;
  readonly pos: SourcePosition;
}

export type Statement =
  | SelectStatement
  | InsertStatement
  | CreateTableStatement
  | DropTableStatement
  | AlterTableAddColumnsStatement
  | AlterTableModifySettingStatement
  | DescribeTableStatement
  | ShowTablesStatement
  | ShowCreateTableStatement
  | ShowDatabasesStatement
  | ExistsTableStatement
  | ExplainStatement;

/** Any statement but EXPLAIN itself. */
export type ExplainableStatement = Exclude<Statement, ExplainStatement>;
