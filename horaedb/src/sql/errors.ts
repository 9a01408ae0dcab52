import type { SourcePosition } from "./tokens.js";

/** What kind of mistake a `SqlSyntaxError` reports; stable, for callers and tests to branch on. */
export const SqlSyntaxErrorCode = {
  UnterminatedString: "unterminatedString",
  UnterminatedIdentifier: "unterminatedIdentifier",
  UnterminatedComment: "unterminatedComment",
  UnexpectedCharacter: "unexpectedCharacter",
  /** A number, interval, timestamp or quoted identifier that is malformed or out of range. */
  InvalidLiteral: "invalidLiteral",
  UnexpectedToken: "unexpectedToken",
  UnexpectedEnd: "unexpectedEnd",
  /** Something follows a complete statement where only `;` or the end may. */
  TrailingInput: "trailingInput",
  DuplicateClause: "duplicateClause",
  /** A clause that is allowed, but not at this place (e.g. WHERE after ORDER BY). */
  MisplacedClause: "misplacedClause",
  /** A reserved word where a name is expected; quoting it makes it a name. */
  ReservedWord: "reservedWord",
  UnknownDataType: "unknownDataType",
  /** Expressions nested deeper than the parser allows (guards the call stack). */
  NestingTooDeep: "nestingTooDeep",
} as const;

export type SqlSyntaxErrorCode = (typeof SqlSyntaxErrorCode)[keyof typeof SqlSyntaxErrorCode];

export interface SqlSyntaxErrorDetails {
  readonly code: SqlSyntaxErrorCode;
  readonly position: SourcePosition;
  /** The offending token as written; undefined at the end of input. */
  readonly found: string | undefined;
  /** What would have been accepted here, e.g. "')' after column list". */
  readonly expected: string;
  /** The reason when it is not "expected X, found Y" (e.g. "duplicate WHERE clause"). */
  readonly reason?: string;
}

/**
 * The SQL text is not valid in our dialect. `line`/`column` (1-based) and `offset` (0-based) locate
 * the offending token; `found` is its text (undefined at the end of input).
 */
export class SqlSyntaxError extends Error {
  override readonly name = "SqlSyntaxError";
  readonly code: SqlSyntaxErrorCode;
  readonly line: number;
  readonly column: number;
  readonly offset: number;
  readonly found: string | undefined;
  readonly expected: string;

  constructor(details: SqlSyntaxErrorDetails) {
    const { position, found, expected } = details;
    const reason = details.reason ?? `expected ${expected}, found ${describeFound(found)}`;
    super(`SQL syntax error at line ${position.line}, column ${position.column}: ${reason}`);
    this.code = details.code;
    this.line = position.line;
    this.column = position.column;
    this.offset = position.offset;
    this.found = found;
    this.expected = expected;
  }
}

const MAX_FOUND_LENGTH = 40;

/** How a found token reads in a message: quoted, shortened, "end of input" when there is none. */
export function describeFound(found: string | undefined): string {
  if (found === undefined) return "end of input";
  const short = found.length > MAX_FOUND_LENGTH ? `${found.slice(0, MAX_FOUND_LENGTH)}...` : found;
  // A string literal already carries its quotes.
  return short.startsWith("'") ? short : `'${short}'`;
}
