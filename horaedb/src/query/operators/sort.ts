import { batchByteSize, takeRows, type ColumnBatch } from "../../batch/column-batch.js";
import { evaluate } from "../evaluator.js";
import { describeExpr } from "../expr-format.js";
import type { SortKey } from "../logical-plan.js";
import type { QueryContext } from "../query-context.js";
import { chunkRows, concatRows } from "../vectors.js";
import { Operator } from "./operator.js";
import { sortedRowOrder } from "./row-comparator.js";

const OUTPUT_BATCH_ROWS = 8192;

export function describeSortKeys(keys: readonly SortKey[]): string {
  return keys
    .map(
      (k) =>
        `${describeExpr(k.expr)} ${k.descending ? "DESC" : "ASC"} NULLS ${k.nullsFirst ? "FIRST" : "LAST"}`,
    )
    .join(", ");
}

/**
 * A full sort: buffers all input (counted against the query's memory limit), then yields it in
 * order. Stable: rows with equal keys keep their input order.
 */
export class SortOperator extends Operator {
  readonly children: readonly Operator[];
  #peakBytes = 0;

  constructor(
    readonly input: Operator,
    readonly keys: readonly SortKey[],
  ) {
    super();
    this.children = [input];
  }

  describe(): string {
    return `Sort: ${describeSortKeys(this.keys)}`;
  }

  override analyzeDetails(): string[] {
    return [`memory=${this.#peakBytes} bytes`];
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    const memory = ctx.memory.reserve("sort");
    try {
      const batches: ColumnBatch[] = [];
      for await (const batch of this.input.execute(ctx)) {
        batches.push(batch);
        memory.grow(batchByteSize(batch));
        this.#peakBytes = memory.bytes;
      }
      const all = concatRows(batches);
      const n = all.numRows;
      if (n === 0) return;
      const keyColumns = this.keys.map((k) => evaluate(k.expr, all));
      const order = sortedRowOrder(keyColumns, this.keys, n);
      ctx.checkpoint();
      yield* chunkRows(takeRows(all, order), OUTPUT_BATCH_ROWS);
    } finally {
      memory.release();
    }
  }
}
