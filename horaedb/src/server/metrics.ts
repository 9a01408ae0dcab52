import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CompactionJobResult } from "../engine/compaction/index.js";
import type { FlushEvent } from "../engine/engine.js";
import type { StorageEngine } from "../engine/index.js";
import { statusOf } from "./status-mapping.js";

/** The statement classes query latency is broken down by. */
export type QueryKind = "select" | "ddl" | "insert" | "other";

export interface ServerMetricsOptions {
  /** The engine once open, or undefined; engine-side numbers are read from it at each scrape. */
  readonly engine: () => StorageEngine | undefined;
  /** Also collect prom-client's default process and Node.js metrics (default true). */
  readonly defaultMetrics?: boolean;
}

/** Latency buckets in seconds, from 0.1 ms to 5 s. */
export const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/**
 * Buckets in seconds of the background jobs, flushes and compactions: they write whole SSTs, so
 * they run longer than requests.
 */
export const BACKGROUND_JOB_BUCKETS_SECONDS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/**
 * The Prometheus metrics of one horaedb instance, on a registry of its own (several servers in one
 * process do not share counters). Request metrics are observed by the handlers; memtable, table and
 * compaction numbers are read from the engine when scraped.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  /** Rows written, by `status` (ok / failed). */
  readonly writeRows: Counter<"status">;
  /** Duration of one write request (a Write call, or one message of a StreamWrite). */
  readonly writeDuration: Histogram;
  /** Duration of one SQL statement, by `kind`. */
  readonly queryDuration: Histogram<"kind">;
  /** Failed SQL statements, by response status `code`. */
  readonly queryErrors: Counter<"code">;
  readonly flushes: Counter;
  readonly flushDuration: Histogram;
  readonly compactionDuration: Histogram<"kind">;
  readonly flushedRows: Counter;
  readonly flushedBytes: Counter;

  constructor(options: ServerMetricsOptions) {
    const registers = [this.registry];
    const engine = options.engine;
    this.writeRows = new Counter({
      name: "horaedb_write_rows_total",
      help: "Rows in write requests, by outcome (ok: written, failed: refused).",
      labelNames: ["status"],
      registers,
    });
    this.writeRows.inc({ status: "ok" }, 0);
    this.writeRows.inc({ status: "failed" }, 0);
    this.writeDuration = new Histogram({
      name: "horaedb_write_request_duration_seconds",
      help: "Duration of write requests (a Write call, or one message of a StreamWrite).",
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.queryDuration = new Histogram({
      name: "horaedb_query_duration_seconds",
      help: "Duration of SQL statements, by kind (select, ddl, insert, other).",
      labelNames: ["kind"],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.queryErrors = new Counter({
      name: "horaedb_query_errors_total",
      help: "SQL statements that failed, by response status code.",
      labelNames: ["code"],
      registers,
    });
    this.flushes = new Counter({
      name: "horaedb_flushes_total",
      help: "Memtables flushed to SSTs.",
      registers,
    });
    this.flushDuration = new Histogram({
      name: "horaedb_flush_duration_seconds",
      help: "Duration of memtable flushes.",
      buckets: BACKGROUND_JOB_BUCKETS_SECONDS,
      registers,
    });
    this.flushedRows = new Counter({
      name: "horaedb_flushed_rows_total",
      help: "Rows written to SSTs by memtable flushes.",
      registers,
    });
    this.flushedBytes = new Counter({
      name: "horaedb_flushed_bytes_total",
      help: "SST bytes written by memtable flushes.",
      registers,
    });
    new Gauge({
      name: "horaedb_memtable_bytes",
      help: "Bytes held in memtables, by state (mutable: taking writes, immutable: being flushed).",
      labelNames: ["state"],
      registers,
      collect() {
        const memory = engine()?.memory;
        this.set({ state: "mutable" }, memory?.mutableBytes ?? 0);
        this.set({ state: "immutable" }, memory?.immutableBytes ?? 0);
      },
    });
    new Gauge({
      name: "horaedb_open_tables",
      help: "Tables open in the engine.",
      registers,
      collect() {
        this.set(engine()?.tables().length ?? 0);
      },
    });
    new Counter({
      name: "horaedb_compaction_jobs_total",
      help: "Compaction jobs since the engine opened, by result (merged, expired, failed).",
      labelNames: ["result"],
      registers,
      collect() {
        const stats = engine()?.compactionStats();
        this.reset();
        this.inc({ result: "merged" }, stats?.mergeJobs ?? 0);
        this.inc({ result: "expired" }, stats?.expireJobs ?? 0);
        this.inc({ result: "failed" }, stats?.failedJobs ?? 0);
      },
    });
    this.compactionDuration = new Histogram({
      name: "horaedb_compaction_duration_seconds",
      help: "Duration of committed compaction jobs, by kind (merge, expire).",
      labelNames: ["kind"],
      buckets: BACKGROUND_JOB_BUCKETS_SECONDS,
      registers,
    });
    new Gauge({
      name: "horaedb_compaction_running_jobs",
      help: "Compaction jobs running now.",
      registers,
      collect() {
        this.set(engine()?.compactionStats().running ?? 0);
      },
    });
    new Gauge({
      name: "horaedb_compaction_memory_bytes",
      help: "Estimated memory held by the compaction jobs running now (bounded by engine.compaction_memory_bytes).",
      registers,
      collect() {
        this.set(engine()?.compactionStats().memoryInUseBytes ?? 0);
      },
    });
    new Counter({
      name: "horaedb_wal_written_bytes_total",
      help: "Bytes appended to the WAL (record headers included) since the engine opened.",
      registers,
      collect() {
        this.reset();
        this.inc(engine()?.walUsage().bytesWritten ?? 0);
      },
    });
    new Gauge({
      name: "horaedb_wal_retained_bytes",
      help: "Bytes the WAL holds now: records not yet freed by truncation after flushes.",
      registers,
      collect() {
        this.set(engine()?.walUsage().retainedBytes ?? 0);
      },
    });
    new Gauge({
      name: "horaedb_decoded_cache_bytes",
      help: "Bytes of decoded SST columns held by the read cache (engine.decoded_cache_bytes).",
      registers,
      collect() {
        this.set(engine()?.decodedCacheStats()?.bytes ?? 0);
      },
    });
    new Counter({
      name: "horaedb_decoded_cache_requests_total",
      help: "Column chunks asked of the decoded SST column cache since the engine opened, by result (hit, miss).",
      labelNames: ["result"],
      registers,
      collect() {
        const stats = engine()?.decodedCacheStats();
        this.reset();
        this.inc({ result: "hit" }, stats?.hits ?? 0);
        this.inc({ result: "miss" }, stats?.misses ?? 0);
      },
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Records a memtable flush (an engine `onFlush` listener). */
  observeFlush(event: FlushEvent): void {
    this.flushes.inc();
    this.flushDuration.observe(event.ms / 1000);
    this.flushedRows.inc(event.rows);
    this.flushedBytes.inc(event.bytes);
  }

  /** Records a committed compaction job (an engine `onCompaction` listener). */
  observeCompaction(result: CompactionJobResult): void {
    this.compactionDuration.observe({ kind: result.kind }, result.ms / 1000);
  }

  /** Times one write request. */
  async timeWrite<T>(run: () => Promise<T>): Promise<T> {
    const end = this.writeDuration.startTimer();
    try {
      return await run();
    } finally {
      end();
    }
  }

  /** Times one SQL statement, counting its failure by status code; the outcome passes through. */
  async timeQuery<T>(sql: string, run: () => Promise<T>): Promise<T> {
    const end = this.queryDuration.startTimer({ kind: queryKind(sql) });
    try {
      return await run();
    } catch (error) {
      this.queryErrors.inc({ code: statusOf(error).code.replace(/^STATUS_CODE_/, "") });
      throw error;
    } finally {
      end();
    }
  }
}

/** Whitespace and comments before a statement's first keyword. */
const LEADING_TRIVIA = /(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/y;
const FIRST_KEYWORD = /[A-Za-z]+/y;

/** The kind of a statement from its first keyword (leading comments skipped). */
export function queryKind(sql: string): QueryKind {
  // Sticky patterns read the keyword in place, without copying the statement.
  LEADING_TRIVIA.lastIndex = 0;
  LEADING_TRIVIA.exec(sql);
  FIRST_KEYWORD.lastIndex = LEADING_TRIVIA.lastIndex;
  const keyword = FIRST_KEYWORD.exec(sql)?.[0].toUpperCase();
  switch (keyword) {
    case "SELECT":
    case "WITH":
      return "select";
    case "CREATE":
    case "DROP":
    case "ALTER":
      return "ddl";
    case "INSERT":
      return "insert";
    default:
      return "other";
  }
}

/** `GET /metrics`: the registry in the Prometheus text exposition format. */
export function registerMetricsRoute(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get("/metrics", async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.header("content-type", metrics.registry.contentType).send(body);
  });
}
