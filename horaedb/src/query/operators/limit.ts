import type { ColumnBatch } from "../../batch/column-batch.js";
import type { QueryContext } from "../query-context.js";
import { sliceColumns } from "../vectors.js";
import { Operator } from "./operator.js";

/** Skips `offset` rows, then passes at most `limit`; stops reading its input once it has them. */
export class LimitOperator extends Operator {
  readonly children: readonly Operator[];

  constructor(
    readonly input: Operator,
    readonly offset: number,
    readonly limit: number | undefined,
  ) {
    super();
    this.children = [input];
  }

  describe(): string {
    return `Limit: offset=${this.offset} limit=${this.limit ?? "none"}`;
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    let toSkip = this.offset;
    let remaining = this.limit ?? Infinity;
    if (remaining === 0) return;
    for await (const batch of this.input.execute(ctx)) {
      const start = Math.min(toSkip, batch.numRows);
      toSkip -= start;
      const end = Math.min(batch.numRows, start + remaining);
      if (end > start) {
        remaining -= end - start;
        yield start === 0 && end === batch.numRows ? batch : sliceColumns(batch, start, end);
      }
      if (remaining === 0) return;
    }
  }
}
