/** Why a write was refused; maps to a response status in the server. */
export type WriteErrorKind =
  | "invalid_argument" // malformed rows: bad types, missing timestamp, duplicate column...
  | "not_found" // unknown table while auto-create is off
  | "resource_exhausted"; // memory budget full; retry later

/** A write was refused before anything was applied; names the table and, where known, the column. */
export class WriteError extends Error {
  override readonly name = "WriteError";
  readonly kind: WriteErrorKind;
  readonly table: string;
  readonly column: string | undefined;

  constructor(kind: WriteErrorKind, table: string, message: string, column?: string) {
    super(`table ${table}: ${message}`);
    this.kind = kind;
    this.table = table;
    this.column = column;
  }
}
