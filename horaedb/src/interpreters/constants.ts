import { cellAt } from "../batch/column.js";
import { executeSelect, type QueryEngine, type QueryOptions } from "../query/index.js";
import type { Expr, ExprItem, SelectStatement, SourcePosition } from "../sql/index.js";
import type { CellValue, DataType } from "../table/data-type.js";

/** Most expressions evaluated by one constant SELECT. */
const MAX_EXPRESSIONS_PER_QUERY = 1024;

/**
 * Evaluates expressions without columns (literals, negatives, now(), arithmetic, casts), each
 * converted to its target type, with the same planner and kernels as queries: a constant SELECT of
 * `CAST(expr AS type)` items. Errors point at the expression in the original SQL text.
 */
export async function evaluateConstants(
  engine: QueryEngine,
  database: string,
  expressions: readonly { readonly expr: Expr; readonly type: DataType }[],
  options: QueryOptions,
): Promise<CellValue[]> {
  const values: CellValue[] = [];
  for (let start = 0; start < expressions.length; start += MAX_EXPRESSIONS_PER_QUERY) {
    const chunk = expressions.slice(start, start + MAX_EXPRESSIONS_PER_QUERY);
    const first = chunk[0];
    if (first === undefined) break;
    const items = chunk.map(({ expr, type }, i): ExprItem => ({
      kind: "expr",
      expr: { kind: "cast", expr, type, pos: expr.pos },
      alias: { value: `c${i}`, pos: expr.pos },
    }));
    const statement = constantSelect(items, first.expr.pos);
    const result = await executeSelect(engine, database, statement, options);
    const batch = result.batches.find((b) => b.numRows > 0);
    for (let i = 0; i < chunk.length; i++) {
      const column = batch?.columns[i];
      values.push(column === undefined ? null : cellAt(column, 0));
    }
  }
  return values;
}

function constantSelect(items: readonly ExprItem[], pos: SourcePosition): SelectStatement {
  return {
    kind: "select",
    distinct: false,
    items,
    from: undefined,
    where: undefined,
    groupBy: [],
    having: undefined,
    orderBy: [],
    limit: undefined,
    offset: undefined,
    pos,
  };
}
