import type { ColumnBatch } from "../../batch/column-batch.js";
import type { BoundExpr } from "../bound-expr.js";
import { evaluate } from "../evaluator.js";
import { describeExpr } from "../expr-format.js";
import type { QueryContext } from "../query-context.js";
import type { Field } from "../types.js";
import { Operator } from "./operator.js";

/** Computes the output columns from each input batch. */
export class ProjectOperator extends Operator {
  readonly children: readonly Operator[];
  readonly #names: readonly string[];

  constructor(
    readonly input: Operator,
    readonly exprs: readonly BoundExpr[],
    readonly fields: readonly Field[],
  ) {
    super();
    this.children = [input];
    this.#names = fields.map((f) => f.name);
  }

  describe(): string {
    const items = this.exprs.map((e, i) => {
      const text = describeExpr(e);
      const name = this.#names[i] as string;
      return text === name ? text : `${text} AS ${name}`;
    });
    return `Projection: ${items.join(", ")}`;
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    for await (const batch of this.input.execute(ctx)) {
      yield {
        names: this.#names,
        columns: this.exprs.map((e) => evaluate(e, batch)),
        numRows: batch.numRows,
      };
    }
  }
}
