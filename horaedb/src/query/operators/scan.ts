import type { ColumnBatch } from "../../batch/column-batch.js";
import type { ScanMetrics, ScanRequest, TagFilter } from "../../engine/index.js";
import type { TimeExtent } from "../../engine/time-extent.js";
import { formatTimestamp } from "../cast.js";
import type { ScanNode } from "../logical-plan.js";
import type { QueryContext } from "../query-context.js";
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

/** Reads a table through the engine with the pushed-down time range, tag filter and projection. */
export class ScanOperator extends Operator {
  readonly children = [];
  #scanMetrics: ScanMetrics | undefined;

  /** `seriesRuns`: ask the engine to mark batches read in series order with their runs. */
  constructor(
    readonly reader: TableReader,
    readonly node: ScanNode,
    readonly batchSize: number | undefined,
    readonly seriesRuns = false,
  ) {
    super();
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
    });
    this.#scanMetrics = scan.metrics;
    ctx.checkpoint();
    for await (const batch of scan) {
      ctx.checkpoint();
      yield batch;
    }
  }
}

function describeTimeRange(start: number, end: number): string {
  const bound = (ms: number) => (Number.isFinite(ms) ? formatTimestamp(ms) : ms < 0 ? "-inf" : "+inf");
  return `[${bound(start)}, ${bound(end)})`;
}
