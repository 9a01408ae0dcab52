/**
 * InfluxDB 1.x (`influxd`, Debian package influxdb) as a compared database: started on loopback
 * ports chosen at run time over a temporary directory, fed line protocol on `/write`, queried with
 * InfluxQL on `/query`.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  TSBS_HIGH_CPU_THRESHOLD,
  TSBS_ORDER_BY_LIMIT,
  TSBS_QUERY_FIELDS,
  type TsbsQuery,
} from "@horaedb/horaedb/testing";
import { onCleanup } from "../cleanup.js";
import { ChildService, freePort } from "./child-process.js";
import { endpointUrl, forEachConcurrently, PeerRequestError, requestJson, requestText } from "./http.js";
import type { LineProtocolTarget } from "./query-target.js";

const SYSTEM = "influxdb";
const DATABASE = "benchmark";
const START_TIMEOUT_MS = 60_000;

/**
 * The TSBS shapes in InfluxQL, as TSBS's InfluxDB query generator writes them. They match our SQL
 * (same windows, `[start, end)`, same buckets), except where noted.
 */
export function influxQl(query: TsbsQuery): string {
  const fields = TSBS_QUERY_FIELDS[query.shape];
  const hosts = query.hosts.map((h) => `hostname = '${h.replaceAll("'", "\\'")}'`).join(" OR ");
  const window = `time >= '${rfc3339(query.start)}' AND time < '${rfc3339(query.end)}'`;
  const bucket = `time(${query.bucketMs}ms)`;
  switch (query.shape) {
    case "single-groupby-1-1-1":
    case "single-groupby-5-1-12":
      return (
        `SELECT ${fields.map((f) => `max(${f})`).join(", ")} FROM cpu ` +
        `WHERE (${hosts}) AND ${window} GROUP BY ${bucket}`
      );
    case "double-groupby-1":
      return `SELECT mean(${fields[0]}) FROM cpu WHERE ${window} GROUP BY ${bucket}, hostname`;
    case "high-cpu-1":
      return `SELECT * FROM cpu WHERE ${fields[0]} > ${TSBS_HIGH_CPU_THRESHOLD}.0 AND (${hosts}) AND ${window}`;
    case "lastpoint":
      return `SELECT last(${fields[0]}) FROM cpu GROUP BY hostname`;
    case "groupby-orderby-limit":
      return (
        `SELECT max(${fields[0]}) FROM cpu WHERE time < '${rfc3339(query.end)}' ` +
        `GROUP BY ${bucket} ORDER BY time DESC LIMIT ${TSBS_ORDER_BY_LIMIT}`
      );
  }
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** A configuration on the given ports and directory, with every optional service off. */
function configuration(dir: string, httpPort: number, rpcPort: number): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, "meta")}"
  logging-enabled = false

[data]
  dir = "${join(dir, "data")}"
  wal-dir = "${join(dir, "wal")}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
`;
}

interface InfluxQueryAnswer {
  readonly results?: readonly {
    readonly error?: string;
    readonly series?: readonly { readonly values?: readonly (readonly unknown[])[] }[];
  }[];
  readonly error?: string;
}

export class InfluxDb implements LineProtocolTarget {
  readonly name = SYSTEM;
  readonly #base: string;
  readonly #service: ChildService;
  readonly #stop: () => Promise<void>;

  private constructor(base: string, service: ChildService, stop: () => Promise<void>) {
    this.#base = base;
    this.#service = service;
    this.#stop = stop;
  }

  /** Starts `influxd` and creates the database; stopped by `stop()` or the bench's cleanup. */
  static async start(binary: string): Promise<InfluxDb> {
    const dir = await mkdtemp(join(tmpdir(), "horaedb-bench-influxdb-"));
    let service: ChildService | undefined;
    const stop = onCleanup(SYSTEM, async () => {
      await service?.stop();
      await rm(dir, { recursive: true, force: true });
    });
    try {
      const httpPort = await freePort();
      const configFile = join(dir, "influxdb.conf");
      await writeFile(configFile, configuration(dir, httpPort, await freePort()));
      service = new ChildService(SYSTEM, binary, ["run", "-config", configFile]);
      const base = `http://127.0.0.1:${httpPort}`;
      await service.waitUntil(
        async () => (await fetch(endpointUrl(base, "/ping"))).status === 204,
        START_TIMEOUT_MS,
        "answering /ping",
      );
      const influx = new InfluxDb(base, service, stop);
      await influx.#query(`CREATE DATABASE ${DATABASE}`, "POST");
      return influx;
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
    const url = endpointUrl(this.#base, "/write", { db: DATABASE, precision: "ms" });
    await forEachConcurrently(
      bodies,
      concurrency,
      async (body) => {
        await requestText(SYSTEM, "write", url, { method: "POST", body });
      },
      onBody,
    );
  }

  /** A write is visible to queries once it is answered. */
  async settle(): Promise<void> {}

  async countRows(): Promise<number> {
    const answer = await this.#query("SELECT count(usage_user) FROM cpu");
    const value = answer.results?.[0]?.series?.[0]?.values?.[0]?.[1];
    return typeof value === "number" ? value : 0;
  }

  /** Rows: the rows of every series of the answer (one per bucket, per bucket and host, ...). */
  async query(query: TsbsQuery): Promise<number> {
    const answer = await this.#query(influxQl(query));
    let rows = 0;
    for (const series of answer.results?.[0]?.series ?? []) rows += series.values?.length ?? 0;
    return rows;
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

  async #query(statement: string, method: "GET" | "POST" = "GET"): Promise<InfluxQueryAnswer> {
    const url = endpointUrl(this.#base, "/query", { db: DATABASE, epoch: "ms", q: statement });
    const answer = await requestJson<InfluxQueryAnswer>(SYSTEM, "query", url, { method });
    const error = answer.error ?? answer.results?.find((r) => r.error !== undefined)?.error;
    if (error !== undefined) throw new PeerRequestError(SYSTEM, `query ${statement}`, undefined, error);
    return answer;
  }
}
