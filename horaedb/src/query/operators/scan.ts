import { columnOf, type ColumnBatch } from "../../batch/column-batch.js";
import type { Column } from "../../batch/column.js";
import type { RowPredicate, ScanMetrics, ScanRequest, TagFilter } from "../../engine/index.js";
import type { TimeExtent } from "../../engine/time-extent.js";
import { referencedColumns, transformExpr, type BoundExpr } from "../bound-expr.js";
import { formatTimestamp } from "../cast.js";
import { evaluate } from "../evaluator.js";
import { describeExpr } from "../expr-format.js";
import type { ScanNode } from "../logical-plan.js";
import type { QueryContext } from "../query-context.js";
import { necessaryComparisons, selectRows } from "../row-selection.js";
import { trueRows } from "../vectors.js";
import { Operator } from "./operator.js";

/** What a scan needs from the storage engine. */
export interface TableReader {
  scan(
    database: string,
    table: string,
    request: ScanRequest,
  ): AsyncIterable<ColumnBatch> & { readonly metrics: ScanMetrics };
  /**
   * Where the table's rows with the filtered tags lie in time now, without reading them; undefined
   * when a scan with `tagFilter` can return none. Reads that go newest (or oldest) first start
   * there; without it they need a time range bounded on the side they start from.
   */
  timeExtent?(database: string, table: string, tagFilter?: TagFilter): TimeExtent | undefined;
}

/**
 * Reads a table through the engine with the pushed-down time range, tag filter and projection,
 * and the WHERE conditions they do not cover as the engine's row predicate: the engine returns only
 * rows where it is TRUE, testing them before reading their other columns where it can.
 */
export class ScanOperator extends Operator {
  readonly children = [];
  readonly #predicate: RowPredicate | undefined;
  readonly #predicateExpr: BoundExpr | undefined;
  #scanMetrics: ScanMetrics | undefined;

  /**
   * `seriesRuns`: ask the engine to mark batches read in series order with their runs.
   * `predicate`: over the node's fields, the condition every row returned meets (WHERE's).
   */
  constructor(
    readonly reader: TableReader,
    readonly node: ScanNode,
    readonly batchSize: number | undefined,
    readonly seriesRuns = false,
    predicate?: BoundExpr,
  ) {
    super();
    this.#predicate = predicate === undefined ? undefined : rowPredicate(predicate, node);
    this.#predicateExpr = predicate;
  }

  /** What the engine's scan did; undefined before the scan started. */
  get scanMetrics(): ScanMetrics | undefined {
    return this.#scanMetrics;
  }

  describe(): string {
    const { node } = this;
    const parts = [`Scan: ${node.database}.${node.table}`, `projection=[${node.projection.join(", ")}]`];
    if (node.timeRange !== undefined)
      parts.push(`timeRange=${describeTimeRange(node.timeRange.start, node.timeRange.end)}`);
    if (node.tagFilter !== undefined) {
      const tags = Object.entries(node.tagFilter).map(
        ([tag, values]) => `${tag} IN (${values.map((v) => `'${v}'`).join(", ")})`,
      );
      parts.push(`tagFilter=[${tags.join(", ")}]`);
    }
    if (node.lastPerSeries !== undefined)
      parts.push(`lastPerSeries=[${node.lastPerSeries.columns.join(", ")}]`);
    if (this.#predicateExpr !== undefined) parts.push(`predicate=[${describeExpr(this.#predicateExpr)}]`);
    return parts.join(" ");
  }

  override analyzeDetails(): string[] {
    const m = this.#scanMetrics;
    if (m === undefined) return [];
    const lines = [
      `ssts=${m.sstsTotal} sstsPruned=${m.sstsPruned} rowGroups=${m.rowGroupsTotal} rowGroupsPruned=${m.rowGroupsPruned}`,
      `rowsFromSsts=${m.rowsFromSsts} rowsFromMemtables=${m.rowsFromMemtables} bytesRead=${m.bytesRead}`,
    ];
    if (m.rowsMerged > 0) lines.push(`rowsMerged=${m.rowsMerged}`);
    if (this.#predicate !== undefined)
      lines.push(
        `rowsDroppedByPredicate=${m.rowsDroppedByPredicate} seriesPrunedByPredicate=${m.seriesPrunedByPredicate}`,
      );
    if (m.decodedCacheHits > 0 || m.decodedCacheMisses > 0)
      lines.push(`decodedCacheHits=${m.decodedCacheHits} decodedCacheMisses=${m.decodedCacheMisses}`);
    return lines;
  }

  protected async *produce(ctx: QueryContext): AsyncGenerator<ColumnBatch, void, undefined> {
    const { node } = this;
    const scan = this.reader.scan(node.database, node.table, {
      projection: node.projection,
      ...(node.timeRange === undefined ? {} : { timeRange: node.timeRange }),
      ...(node.tagFilter === undefined ? {} : { tagFilter: node.tagFilter }),
      ...(node.lastPerSeries === undefined ? {} : { lastPerSeries: node.lastPerSeries }),
      ...(this.batchSize === undefined ? {} : { batchSize: this.batchSize }),
      ...(this.seriesRuns ? { seriesRuns: true } : {}),
      ...(this.#predicate === undefined ? {} : { predicate: this.#predicate }),
    });
    this.#scanMetrics = scan.metrics;
    ctx.checkpoint();
    for await (const batch of scan) {
      ctx.checkpoint();
      yield batch;
    }
  }
}

/** `predicate` as the engine's row predicate: bound over its own columns, looked up by name. */
function rowPredicate(predicate: BoundExpr, node: ScanNode): RowPredicate {
  const used = [...referencedColumns(predicate)].sort((a, b) => a - b);
  const columns = used.map((index) => {
    const field = node.fields[index];
    if (field === undefined)
      throw new RangeError(`internal: the predicate reads column ${index} of ${node.table}`);
    return field.name;
  });
  const position = new Map(used.map((index, i) => [index, i]));
  const bound = transformExpr(predicate, (e) =>
    e.kind === "column" ? { ...e, index: position.get(e.index) as number } : e,
  );
  const comparisons = necessaryComparisons(bound).map(({ column, op, value }) => ({
    column: columns[column] as string,
    op,
    value,
  }));
  return {
    columns,
    ...(comparisons.length === 0 ? {} : { comparisons }),
    select(batch: ColumnBatch): Uint32Array {
      const own: ColumnBatch = {
        names: columns,
        columns: columns.map((name) => {
          const column: Column | undefined = columnOf(batch, name);
          if (column === undefined) throw new RangeError(`internal: column "${name}" is not in the batch`);
          return column;
        }),
        numRows: batch.numRows,
      };
      return selectRows(bound, own) ?? trueRows(evaluate(bound, own), batch.numRows);
    },
  };
}

function describeTimeRange(start: number, end: number): string {
  const bound = (ms: number) => (Number.isFinite(ms) ? formatTimestamp(ms) : ms < 0 ? "-inf" : "+inf");
  return `[${bound(start)}, ${bound(end)})`;
}
