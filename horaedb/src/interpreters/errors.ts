import type { SourcePosition } from "../sql/index.js";

/** Why a statement other than SELECT could not be executed. */
export type SqlExecutionErrorKind = "invalid_argument" | "not_found" | "already_exists";

/**
 * A well-formed statement that cannot be executed: an unknown table or column, a feature this
 * mode does not have, values that do not fit the table. Carries the position it blames when known.
 */
export class SqlExecutionError extends Error {
  override readonly name = "SqlExecutionError";
  readonly kind: SqlExecutionErrorKind;
  /** The message without the position. */
  readonly reason: string;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(kind: SqlExecutionErrorKind, reason: string, position?: SourcePosition) {
    super(
      position === undefined ? reason : `${reason} (at line ${position.line}, column ${position.column})`,
    );
    this.kind = kind;
    this.reason = reason;
    this.line = position?.line;
    this.column = position?.column;
  }
}
