import type { Column } from "../../batch/column.js";
import type { ColumnBatch } from "../../batch/column-batch.js";
import { createAccumulator, type Accumulator } from "../accumulators.js";
import type { BoundExpr } from "../bound-expr.js";
import { evaluate } from "../evaluator.js";
import { describeExpr } from "../expr-format.js";
import type { AggregateCall } from "../logical-plan.js";
import type { QueryContext } from "../query-context.js";
import type { Field } from "../types.js";
import { chunkRows } from "../vectors.js";
import { GroupKeyTable } from "./group-keys.js";
import { Operator } from "./operator.js";

const OUTPUT_BATCH_ROWS = 8192;

/**
 * Hash aggregation: reads all its input, assigning each row to the group of its key values and
 * adding it to that group's accumulators, then yields one row per group (keys, then aggregates)
 * in the order groups were first seen. The bytes of groups and accumulator state count against the
 * query's memory limit as they grow.
 */
export class HashAggregateOperator extends Operator {
  readonly children: readonly Operator[];
  #peakBytes = 0;
  #groups = 0;

  constructor(
    readonly input: Operator,
    readonly groupKeys: readonly BoundExpr[],
    readonly aggregates: readonly AggregateCall[],
    readonly fields: readonly Field[],
    readonly distinct: boolean,
  ) {
    super();
    this.children = [input];
  }

  describe(): string {
    if (this.distinct) return `Distinct: [${this.groupKeys.map(describeExpr).join(", ")}]`;
    const keys = this.groupKeys.map(describeExpr).join(", ");
    return `Aggregate: groupBy=[${keys}] aggregates=[${this.aggregates.map((a) => a.display).join(", ")}]`;
  }

  override analyzeDetails(): string[] {
    return [`groups=${this.#groups} memory=${this.#peakBytes} bytes`];
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    // The key columns' types are the first output fields' (a NULL key is a string column).
    const table = new GroupKeyTable(this.fields.slice(0, this.groupKeys.length).map((f) => f.type));
    const accumulators: Accumulator[] = this.aggregates.map((a, i) =>
      createAccumulator(
        a.fn,
        a.distinct,
        a.args.length > 0,
        (this.fields[this.groupKeys.length + i] as Field).type,
      ),
    );
    const bytesPerGroup = accumulators.reduce((sum, a) => sum + a.bytesPerGroup, 0);
    const memory = ctx.memory.reserve(this.distinct ? "DISTINCT" : "hash aggregation");
    const account = () => {
      let bytes = table.byteSize() + table.numGroups * bytesPerGroup;
      for (const a of accumulators) bytes += a.extraBytes();
      memory.resize(bytes);
      this.#peakBytes = Math.max(this.#peakBytes, bytes);
    };
    try {
      for await (const batch of this.input.execute(ctx)) {
        const n = batch.numRows;
        const keys = this.groupKeys.map((k) => evaluate(k, batch));
        const groups = table.assign(keys, n);
        for (const [i, acc] of accumulators.entries()) {
          acc.grow(table.numGroups);
          const args: Column[] = (this.aggregates[i] as AggregateCall).args.map((a) => evaluate(a, batch));
          acc.update(groups, args, n);
        }
        account();
        ctx.checkpoint();
      }
      const numGroups = table.numGroups;
      this.#groups = numGroups;
      for (const acc of accumulators) acc.grow(numGroups);
      const columns = [...table.keyColumns(), ...accumulators.map((a) => a.finish(numGroups))];
      const result: ColumnBatch = { names: this.fields.map((f) => f.name), columns, numRows: numGroups };
      yield* chunkRows(result, OUTPUT_BATCH_ROWS);
    } finally {
      memory.release();
    }
  }
}
