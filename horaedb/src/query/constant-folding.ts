/**
 * Constant folding: an operation whose operands are all constants is computed once while the
 * statement is planned (`now() - INTERVAL '1 hour'` becomes one timestamp), with the same kernels
 * that compute it per row, so both give the same answer.
 */
import type { ColumnBatch } from "../batch/column-batch.js";
import { childrenOf, literal, type BoundExpr } from "./bound-expr.js";
import { evaluate } from "./evaluator.js";
import { scalarAt } from "./vectors.js";

/** A batch of one row and no columns: what constants are evaluated over. */
export const SINGLE_ROW: ColumnBatch = { names: [], columns: [], numRows: 1 };

/** `expr` as a literal when all its operands are literals; otherwise `expr` itself. */
export function foldConstant(expr: BoundExpr): BoundExpr {
  if (expr.kind === "column" || expr.kind === "literal" || expr.kind === "aggregate") return expr;
  if (expr.type === "null" || expr.type === "interval") return expr;
  if (!childrenOf(expr).every((c) => c.kind === "literal")) return expr;
  return literal(expr.type, scalarAt(evaluate(expr, SINGLE_ROW), 0));
}
