import type { Column } from "../../batch/column.js";
import type { ColumnBatch } from "../../batch/column-batch.js";
import { createAccumulator, GroupRunFinder, type Accumulator, type GroupRuns } from "../accumulators.js";
import { bucketKeyOf } from "../bucket-keys.js";
import type { BoundExpr } from "../bound-expr.js";
import { evaluate } from "../evaluator.js";
import { describeExpr } from "../expr-format.js";
import type { AggregateCall } from "../logical-plan.js";
import type { QueryContext } from "../query-context.js";
import type { Field } from "../types.js";
import { chunkRows } from "../vectors.js";
import { GroupKeyTable, type SeriesRunKey } from "./group-keys.js";
import { Operator } from "./operator.js";

const OUTPUT_BATCH_ROWS = 8192;
/** Below this many rows per run of one group on average, rows are added one at a time. */
const MIN_AVERAGE_RUN = 4;

/**
 * Hash aggregation: reads all its input, assigning each row to the group of its key values and
 * adding it to that group's accumulators, then yields one row per group (keys, then aggregates)
 * in the order groups were first seen. The bytes of groups and accumulator state count against the
 * query's memory limit as they grow.
 *
 * Time-bucket keys (time_bucket, date_trunc of a timestamp column) are computed from the
 * timestamps while grouping, and rows in runs of one group update the accumulators run by run.
 * With `seriesRunKeys` (every key a TAG column or a time bucket of the timestamps), batches that
 * carry series runs from the scan are cut into runs of one group without comparing rows.
 */
export class HashAggregateOperator extends Operator {
  readonly children: readonly Operator[];
  #peakBytes = 0;
  #groups = 0;
  #runBatches = 0;
  #seriesRunBatches = 0;
  #batches = 0;

  constructor(
    readonly input: Operator,
    readonly groupKeys: readonly BoundExpr[],
    readonly aggregates: readonly AggregateCall[],
    readonly fields: readonly Field[],
    readonly distinct: boolean,
    readonly seriesRunKeys?: readonly SeriesRunKey[],
  ) {
    super();
    this.children = [input];
  }

  /** Per group key: the input expression grouped on (a bucket key's timestamp column). */
  get #keyInputs(): BoundExpr[] {
    return this.groupKeys.map((k) => bucketKeyOf(k)?.column ?? k);
  }

  describe(): string {
    if (this.distinct) return `Distinct: [${this.groupKeys.map(describeExpr).join(", ")}]`;
    const keys = this.groupKeys.map(describeExpr).join(", ");
    return `Aggregate: groupBy=[${keys}] aggregates=[${this.aggregates.map((a) => a.display).join(", ")}]`;
  }

  override analyzeDetails(): string[] {
    const details = [`groups=${this.#groups} memory=${this.#peakBytes} bytes`];
    // How the fast paths applied: bucket keys computed from timestamps, batches folded by runs.
    const bucketKeys = this.groupKeys.filter((k) => bucketKeyOf(k) !== undefined).length;
    if (this.#batches > 0 || bucketKeys > 0)
      details.push(
        `bucketKeysFromTimestamps=${bucketKeys} batchesByRuns=${this.#runBatches}/${this.#batches}` +
          (this.seriesRunKeys === undefined ? "" : ` batchesBySeriesRuns=${this.#seriesRunBatches}`),
      );
    return details;
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    // The key columns' types are the first output fields' (a NULL key is a string column).
    const table = new GroupKeyTable(
      this.fields.slice(0, this.groupKeys.length).map((f) => f.type),
      this.groupKeys.map((k) => bucketKeyOf(k)?.bucketing),
    );
    const keyInputs = this.#keyInputs;
    const { seriesRunKeys } = this;
    const runFinder = new GroupRunFinder();
    const accumulators: Accumulator[] = this.aggregates.map((a, i) =>
      createAccumulator(
        a.fn,
        a.distinct,
        a.args.length > 0,
        (this.fields[this.groupKeys.length + i] as Field).type,
      ),
    );
    const allAcceptRuns = accumulators.every((a) => a.acceptsRuns);
    const someAcceptRuns = accumulators.some((a) => a.acceptsRuns);
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
        if (n === 0) continue;
        const keys = keyInputs.map((k) => evaluate(k, batch));
        let runs: GroupRuns | undefined;
        let groups: Int32Array | undefined;
        const { seriesRuns } = batch;
        if (seriesRunKeys !== undefined && seriesRuns !== undefined)
          runs = table.assignSeriesRuns(keys, n, seriesRuns, seriesRunKeys);
        if (runs !== undefined) {
          this.#seriesRunBatches++;
          if (!allAcceptRuns) groups = table.idsOfRuns(runs, n);
        } else {
          // Runs of one group straight from the keys when every accumulator takes them; else
          // group ids per row, and runs found in those for the accumulators that take them.
          runs = allAcceptRuns ? table.assignRuns(keys, n, MIN_AVERAGE_RUN) : undefined;
          if (runs === undefined) {
            groups = table.assign(keys, n);
            if (someAcceptRuns) runs = runFinder.find(groups, n, MIN_AVERAGE_RUN);
          }
        }
        this.#batches++;
        if (runs !== undefined) this.#runBatches++;
        for (const [i, acc] of accumulators.entries()) {
          acc.grow(table.numGroups);
          const args: Column[] = (this.aggregates[i] as AggregateCall).args.map((a) => evaluate(a, batch));
          if (runs !== undefined && acc.updateRuns !== undefined) acc.updateRuns(runs, args);
          else acc.update(groups as Int32Array, args, n);
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
