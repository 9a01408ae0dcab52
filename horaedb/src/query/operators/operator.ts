/**
 * The executable form of a plan node: an operator pulls batches from its children and streams its
 * own. Every operator counts what it produced and the time spent in it, for EXPLAIN ANALYZE.
 */
import type { ColumnBatch } from "../../batch/column-batch.js";
import type { QueryContext } from "../query-context.js";

export interface OperatorMetrics {
  outputRows: number;
  outputBatches: number;
  /** Time spent producing this operator's batches, its children's time included. */
  elapsedMs: number;
}

export abstract class Operator {
  readonly metrics: OperatorMetrics = { outputRows: 0, outputBatches: 0, elapsedMs: 0 };
  abstract readonly children: readonly Operator[];

  /** One line saying what the operator does, for EXPLAIN. */
  abstract describe(): string;

  /** Further lines for EXPLAIN ANALYZE (what the scan read, memory held...). */
  analyzeDetails(): string[] {
    return [];
  }

  /** Time spent in this operator alone. */
  get selfElapsedMs(): number {
    let children = 0;
    for (const c of this.children) children += c.metrics.elapsedMs;
    return Math.max(0, this.metrics.elapsedMs - children);
  }

  /**
   * The operator's output. Stopping early (break, error) stops the children too. Between batches the
   * query lets the event loop run now and then (QueryContext.yieldDue), so a cancel can arrive.
   */
  async *execute(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    const iterator = this.produce(ctx);
    try {
      for (;;) {
        const started = performance.now();
        const next = await iterator.next();
        const now = performance.now();
        this.metrics.elapsedMs += now - started;
        if (next.done === true) return;
        if (ctx.yieldDue(now)) await ctx.yieldToEventLoop();
        this.metrics.outputRows += next.value.numRows;
        this.metrics.outputBatches++;
        yield next.value;
      }
    } finally {
      await iterator.return(undefined);
    }
  }

  protected abstract produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined>;
}
