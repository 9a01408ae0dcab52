import type { ColumnBatch } from "../../batch/column-batch.js";
import type { QueryContext } from "../query-context.js";
import { Operator } from "./operator.js";

/** The single row of no columns that SELECT without FROM computes its select list over. */
export class SingleRowOperator extends Operator {
  readonly children = [];

  describe(): string {
    return "Values: one row";
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- every operator streams asynchronously
  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    ctx.checkpoint();
    yield { names: [], columns: [], numRows: 1 };
  }
}
