/**
 * Errors of planning and running a query. Planning errors point at the place in the SQL text they
 * blame; execution errors say which limit or value stopped the query.
 */
import type { SourcePosition } from "../sql/index.js";

/** What a `QueryPlanError` reports; stable, for callers and tests to branch on. */
export const QueryPlanErrorCode = {
  UnknownTable: "unknownTable",
  UnknownColumn: "unknownColumn",
  /** A qualified name (`t.x`, `t.*`) whose qualifier is not the table of FROM. */
  UnknownQualifier: "unknownQualifier",
  AmbiguousColumn: "ambiguousColumn",
  UnknownFunction: "unknownFunction",
  /** Wrong number or kind of arguments to a function. */
  InvalidArguments: "invalidArguments",
  /** Operand types an operator, function or clause cannot take. */
  TypeMismatch: "typeMismatch",
  /** An aggregate where none may be (WHERE, GROUP BY, inside another aggregate). */
  MisplacedAggregate: "misplacedAggregate",
  /** A column outside aggregates that GROUP BY does not list. */
  NotGrouped: "notGrouped",
  /** A literal with a value out of range or malformed for where it is used. */
  InvalidValue: "invalidValue",
  /** A valid statement that this engine does not execute (e.g. EXPLAIN of an INSERT). */
  Unsupported: "unsupported",
} as const;

export type QueryPlanErrorCode = (typeof QueryPlanErrorCode)[keyof typeof QueryPlanErrorCode];

/**
 * The statement is well-formed but cannot be planned: an unknown name, a type that does not fit, a
 * misplaced aggregate. `line`/`column` (1-based) and `offset` (0-based) locate what it blames.
 */
export class QueryPlanError extends Error {
  override readonly name = "QueryPlanError";
  readonly code: QueryPlanErrorCode;
  /** The message without the position. */
  readonly reason: string;
  readonly line: number;
  readonly column: number;
  readonly offset: number;

  constructor(code: QueryPlanErrorCode, reason: string, position: SourcePosition) {
    super(`${reason} (at line ${position.line}, column ${position.column})`);
    this.code = code;
    this.reason = reason;
    this.line = position.line;
    this.column = position.column;
    this.offset = position.offset;
  }
}

/** What a `QueryExecutionError` reports. */
export const QueryExecutionErrorCode = {
  MemoryLimitExceeded: "memoryLimitExceeded",
  Timeout: "timeout",
  Cancelled: "cancelled",
  DivisionByZero: "divisionByZero",
  /** An integer result outside its type's range. */
  NumericOverflow: "numericOverflow",
  /** A value that a CAST (explicit or implied by a comparison) cannot convert. */
  InvalidCast: "invalidCast",
} as const;

export type QueryExecutionErrorCode = (typeof QueryExecutionErrorCode)[keyof typeof QueryExecutionErrorCode];

/** A query stopped while running: a limit was reached, it was cancelled, or a value was invalid. */
export class QueryExecutionError extends Error {
  override readonly name = "QueryExecutionError";
  readonly code: QueryExecutionErrorCode;

  constructor(code: QueryExecutionErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
