/**
 * VictoriaMetrics single-node (`victoria-metrics`, Debian package victoria-metrics) as a compared
 * database: started on a loopback port chosen at run time over a temporary directory, fed line
 * protocol on `/write`, queried with MetricsQL on `/api/v1/query_range` and `/api/v1/query`.
 *
 * A line `cpu,<tags> usage_user=..,usage_system=..` becomes one series per field, named
 * `cpu_usage_user`, `cpu_usage_system`, ..., labelled with the tags.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  TSBS_HIGH_CPU_THRESHOLD,
  TSBS_QUERY_FIELDS,
  type TsbsQuery,
  type TsbsScale,
} from "@horaedb/horaedb/testing";
import { onCleanup } from "../cleanup.js";
import { ChildService, freePort } from "./child-process.js";
import { endpointUrl, forEachConcurrently, PeerRequestError, requestJson, requestText } from "./http.js";
import type { LineProtocolTarget } from "./query-target.js";

const SYSTEM = "victoria-metrics";
const START_TIMEOUT_MS = 60_000;
const VISIBLE_TIMEOUT_MS = 60_000;
const DAY = 86_400_000;

/** A MetricsQL query with where and how it is evaluated (times in ms). */
export type MetricsQlQuery =
  | {
      readonly kind: "range";
      readonly query: string;
      readonly start: number;
      readonly end: number;
      readonly stepMs: number;
    }
  | { readonly kind: "instant"; readonly query: string; readonly time: number };

/**
 * The TSBS shapes in MetricsQL, as TSBS's VictoriaMetrics query generator writes those it has
 * (single-groupby, double-groupby); high-cpu, lastpoint and groupby-orderby-limit have no TSBS form
 * for it and are written here. Differences from our SQL:
 * - A range query evaluates `f(x[b])` at `t = start + k*step`, over the samples in `(t - b, t]`;
 *   the points run from `window start + b` to `window end`, so a bucket holds the samples of
 *   `(t - b, t]` rather than `[t, t + b)`: the same number of samples, shifted by one.
 * - high-cpu-1 returns usage_user alone, not the whole row (a series holds one field).
 * - lastpoint looks back over the whole data set from its last timestamp.
 * - groupby-orderby-limit reads only the 5 minutes before the end: MetricsQL has no ORDER BY or
 *   LIMIT over time, and a range query names its window.
 */
export function metricsQl(query: TsbsQuery, scale: TsbsScale): MetricsQlQuery {
  const fields = TSBS_QUERY_FIELDS[query.shape];
  const hostnames = query.hosts.map((h) => h.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  const hosts = `hostname=~"${hostnames}"`;
  const bucket = `${query.bucketMs / 1000}s`;
  const buckets = (stepMs: number, start = query.start) => ({
    start: start + stepMs,
    end: query.end,
    stepMs,
  });
  switch (query.shape) {
    case "single-groupby-1-1-1":
      return {
        kind: "range",
        query: `max(max_over_time(cpu_${fields[0]}{${hosts}}[${bucket}]))`,
        ...buckets(query.bucketMs),
      };
    case "single-groupby-5-1-12":
      return {
        kind: "range",
        // keep_metric_names: without it the rollup drops the names and `by (__name__)` merges the fields.
        query: `max(max_over_time({__name__=~"cpu_(${fields.join("|")})",${hosts}}[${bucket}]) keep_metric_names) by (__name__)`,
        ...buckets(query.bucketMs),
      };
    case "double-groupby-1":
      return {
        kind: "range",
        query: `avg(avg_over_time(cpu_${fields[0]}[${bucket}])) by (hostname)`,
        ...buckets(query.bucketMs),
      };
    case "high-cpu-1":
      // Evaluated at every sample's timestamp of [start, end): each point is one raw sample.
      return {
        kind: "range",
        query: `cpu_${fields[0]}{${hosts}} > ${TSBS_HIGH_CPU_THRESHOLD}`,
        start: query.start,
        end: query.end - scale.intervalMs,
        stepMs: scale.intervalMs,
      };
    case "lastpoint": {
      const lastSample = scale.start + scale.durationMs - scale.intervalMs;
      return {
        kind: "instant",
        query: `last_over_time(cpu_${fields[0]}[${scale.durationMs / 1000}s])`,
        time: lastSample,
      };
    }
    case "groupby-orderby-limit":
      return {
        kind: "range",
        query: `max(max_over_time(cpu_${fields[0]}[${bucket}]))`,
        ...buckets(query.bucketMs, query.end - 5 * query.bucketMs),
      };
  }
}

/** Seconds with millisecond precision, as the query API takes times. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

interface PromAnswer {
  readonly status: string;
  readonly error?: string;
  readonly data?: {
    readonly resultType: "matrix" | "vector" | "scalar" | "string";
    readonly result: readonly {
      readonly metric: Record<string, string>;
      readonly values?: readonly (readonly [number, string])[];
      readonly value?: readonly [number, string];
    }[];
  };
}

export class VictoriaMetrics implements LineProtocolTarget {
  readonly name = SYSTEM;
  readonly #base: string;
  readonly #scale: TsbsScale;
  readonly #service: ChildService;
  readonly #stop: () => Promise<void>;

  private constructor(base: string, scale: TsbsScale, service: ChildService, stop: () => Promise<void>) {
    this.#base = base;
    this.#scale = scale;
    this.#service = service;
    this.#stop = stop;
  }

  /**
   * Starts `victoria-metrics` with a retention long enough for `scale`'s data (which must end
   * recently: older samples are refused) and no query latency offset, so the newest samples are
   * visible at once.
   */
  static async start(binary: string, scale: TsbsScale): Promise<VictoriaMetrics> {
    const dir = await mkdtemp(join(tmpdir(), "horaedb-bench-victoria-metrics-"));
    let service: ChildService | undefined;
    const stop = onCleanup(SYSTEM, async () => {
      await service?.stop();
      await rm(dir, { recursive: true, force: true });
    });
    try {
      const port = await freePort();
      const age = Date.now() - scale.start;
      const retentionDays = Math.ceil(age / DAY) + 30;
      service = new ChildService(SYSTEM, binary, [
        `-httpListenAddr=127.0.0.1:${port}`,
        `-storageDataPath=${join(dir, "data")}`,
        `-retentionPeriod=${retentionDays}d`,
        "-search.latencyOffset=0s",
        "-loggerLevel=WARN",
      ]);
      const base = `http://127.0.0.1:${port}`;
      await service.waitUntil(
        async () => (await fetch(endpointUrl(base, "/health"))).ok,
        START_TIMEOUT_MS,
        "answering /health",
      );
      return new VictoriaMetrics(base, scale, service, stop);
    } catch (error) {
      await stop();
      throw error;
    }
  }

  async ingestLines(
    bodies: readonly Buffer[],
    concurrency: number,
    onBody: (body: Buffer) => void,
  ): Promise<void> {
    const url = endpointUrl(this.#base, "/write", { precision: "ms" });
    await forEachConcurrently(
      bodies,
      concurrency,
      async (body) => {
        await requestText(SYSTEM, "write", url, { method: "POST", body });
      },
      onBody,
    );
  }

  /** Rows are buffered for about a second after they are accepted: flush them to searchable parts. */
  async settle(): Promise<void> {
    await requestText(SYSTEM, "force_flush", endpointUrl(this.#base, "/internal/force_flush"));
  }

  /** The samples of cpu_usage_user: one per row. Waits (a little) for them all to become searchable. */
  async countRows(): Promise<number> {
    const expected = this.#scale.hosts * Math.floor(this.#scale.durationMs / this.#scale.intervalMs);
    const deadline = performance.now() + VISIBLE_TIMEOUT_MS;
    let rows = 0;
    do {
      const answer = await this.#run({
        kind: "instant",
        query: `sum(count_over_time(cpu_usage_user[${this.#scale.durationMs / 1000}s]))`,
        time: this.#scale.start + this.#scale.durationMs - this.#scale.intervalMs,
      });
      rows = Number(answer.data?.result[0]?.value?.[1] ?? 0);
      if (rows >= expected) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    } while (performance.now() < deadline);
    return rows;
  }

  /** Rows: the distinct (labels other than the name, timestamp) pairs of the answer. */
  async query(query: TsbsQuery): Promise<number> {
    const answer = await this.#run(metricsQl(query, this.#scale));
    const rows = new Set<string>();
    for (const series of answer.data?.result ?? []) {
      const { __name__: _name, ...labels } = series.metric;
      const key = JSON.stringify(labels);
      if (series.value !== undefined) rows.add(`${key}@${series.value[0]}`);
      for (const [time] of series.values ?? []) rows.add(`${key}@${time}`);
    }
    return rows.size;
  }

  waitUntilIdle(timeoutMs: number): Promise<boolean> {
    return this.#service.waitUntilIdle(timeoutMs);
  }

  pause(): void {
    this.#service.pause();
  }

  resume(): void {
    this.#service.resume();
  }

  stop(): Promise<void> {
    return this.#stop();
  }

  async #run(query: MetricsQlQuery): Promise<PromAnswer> {
    // nocache: no answer comes from VictoriaMetrics's response cache (the other systems have none).
    const url =
      query.kind === "range"
        ? endpointUrl(this.#base, "/api/v1/query_range", {
            query: query.query,
            start: seconds(query.start),
            end: seconds(query.end),
            step: `${query.stepMs / 1000}s`,
            nocache: "1",
          })
        : endpointUrl(this.#base, "/api/v1/query", {
            query: query.query,
            time: seconds(query.time),
            nocache: "1",
          });
    const answer = await requestJson<PromAnswer>(SYSTEM, "query", url);
    if (answer.status !== "success") {
      throw new PeerRequestError(SYSTEM, `query ${query.query}`, undefined, answer.error ?? answer.status);
    }
    return answer;
  }
}
