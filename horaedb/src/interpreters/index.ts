/**
 * SQL statements executed against the storage engine: `executeSql(engine, database, sql, options)`.
 */
export {
  ANALYTIC_ENGINE,
  createStatementOf,
  executeSql,
  executeStatement,
  likePattern,
  type SqlOptions,
  type SqlOutcome,
} from "./execute-sql.js";
export { SqlExecutionError, type SqlExecutionErrorKind } from "./errors.js";
export { columnFromCells, rowsResult } from "./rows.js";
