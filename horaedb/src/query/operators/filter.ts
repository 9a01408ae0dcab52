import { takeRows, type ColumnBatch } from "../../batch/column-batch.js";
import type { BoundExpr } from "../bound-expr.js";
import { evaluate } from "../evaluator.js";
import { describeExpr } from "../expr-format.js";
import type { QueryContext } from "../query-context.js";
import { selectRows } from "../row-selection.js";
import { trueRows } from "../vectors.js";
import { Operator } from "./operator.js";

/**
 * Keeps the rows where the predicate is TRUE (not FALSE, not NULL). The kept rows keep their order,
 * so a batch's series runs carry over (takeRows rebases them).
 */
export class FilterOperator extends Operator {
  readonly children: readonly Operator[];

  constructor(
    readonly input: Operator,
    readonly predicate: BoundExpr,
    readonly clause: string,
  ) {
    super();
    this.children = [input];
  }

  describe(): string {
    return `Filter (${this.clause}): ${describeExpr(this.predicate)}`;
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    for await (const batch of this.input.execute(ctx)) {
      const keep =
        selectRows(this.predicate, batch) ?? trueRows(evaluate(this.predicate, batch), batch.numRows);
      if (keep.length === 0) continue;
      yield keep.length === batch.numRows ? batch : takeRows(batch, keep);
    }
  }
}
