/**
 * SELECT planning and vectorized execution over the storage engine: `executeSelect`,
 * `executeSelectStream` and `explain` take a parsed statement and return columnar results.
 */
export {
  executeSelect,
  executeSelectStream,
  explain,
  type QueryEngine,
  type QueryOptions,
} from "./execute.js";
export {
  QueryExecutionError,
  QueryExecutionErrorCode,
  QueryPlanError,
  QueryPlanErrorCode,
} from "./errors.js";
export type { CancellationSignal, QueryLimits } from "./query-context.js";
export {
  emptyBatch,
  resultRowArrays,
  resultRowCount,
  resultRowObjects,
  resultToArrow,
  type QueryResult,
  type QueryStream,
  type ResultColumn,
} from "./result.js";
export { planSelect, type TableCatalog, type PlanOptions } from "./planner.js";
export type { LogicalPlan } from "./logical-plan.js";
