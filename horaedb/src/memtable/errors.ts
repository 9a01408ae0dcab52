/** Where a memtable error happened: the table (name or id) and the memtable's id, when known. */
export interface MemtableErrorContext {
  readonly table?: string | undefined;
  readonly memtableId?: number | undefined;
  /** The column at fault, for batch and projection errors. */
  readonly column?: string | undefined;
}

/** Base class of the errors memtables raise. */
export class MemtableError extends Error {
  override readonly name: string = "MemtableError";
  readonly table: string | undefined;
  readonly memtableId: number | undefined;
  readonly column: string | undefined;

  constructor(message: string, context: MemtableErrorContext = {}) {
    const where = [
      context.table === undefined ? undefined : `table ${context.table}`,
      context.memtableId === undefined ? undefined : `memtable ${context.memtableId}`,
    ].filter((part) => part !== undefined);
    super(where.length === 0 ? message : `${where.join(", ")}: ${message}`);
    this.table = context.table;
    this.memtableId = context.memtableId;
    this.column = context.column;
  }
}

/** An append reached a memtable that was frozen for flushing; the write belongs in the next one. */
export class MemtableFrozenError extends MemtableError {
  override readonly name = "MemtableFrozenError";
}

/** An appended batch does not fit the memtable's schema (missing key, wrong type, bad length...). */
export class InvalidBatchError extends MemtableError {
  override readonly name = "InvalidBatchError";
}

/** A scan named a column the schema does not have. */
export class UnknownColumnError extends MemtableError {
  override readonly name = "UnknownColumnError";
}

/** Scan options out of range (batch size, time range). */
export class InvalidScanOptionsError extends MemtableError {
  override readonly name = "InvalidScanOptionsError";
}

/** A new schema cannot replace the memtable's (changed key, dropped or retyped column, older version). */
export class IncompatibleSchemaError extends MemtableError {
  override readonly name = "IncompatibleSchemaError";
}

/** `removeFlushed` was given a memtable that is not awaiting flush in this set. */
export class MemtableNotFoundError extends MemtableError {
  override readonly name = "MemtableNotFoundError";
}
