/** A table schema or table option is invalid; `field` names the column or option at fault. */
export class SchemaError extends Error {
  override readonly name = "SchemaError";
  readonly table: string | undefined;
  readonly field: string | undefined;

  constructor(message: string, context: { table?: string; field?: string } = {}) {
    super(context.table === undefined ? message : `table ${context.table}: ${message}`);
    this.table = context.table;
    this.field = context.field;
  }
}
