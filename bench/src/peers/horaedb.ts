/**
 * Our standalone server as a compared database: `horaedb/dist/src/main.js` run as a child process on
 * ports chosen by the system (port 0) over a temporary data directory, written to and queried
 * through the SDK (gRPC).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HoraeDBClient, type Point } from "@horaedb/client";
import { SERVER_NODE_FLAGS } from "@horaedb/horaedb";
import {
  TSBS_FIELDS,
  TSBS_TAGS,
  tsbsQuerySql,
  type TsbsBatch,
  type TsbsQuery,
} from "@horaedb/horaedb/testing";
import { makeData, makeVector, Table, Utf8, type Vector } from "apache-arrow";
import { onCleanup } from "../cleanup.js";
import { ChildService } from "./child-process.js";
import { forEachConcurrently } from "./http.js";
import type { QueryTarget } from "./query-target.js";

const SYSTEM = "horaedb";
const START_TIMEOUT_MS = 60_000;
const QUERY_TIMEOUT_MS = 300_000;

/** The TSBS cpu table; TTL off so that a data set longer than the default TTL (7 days) stays whole. */
export function createTableSql(table: string): string {
  const columns = [
    "timestamp timestamp NOT NULL",
    ...TSBS_TAGS.map((tag) => `${tag} string TAG`),
    ...TSBS_FIELDS.map((field) => `${field} double`),
  ];
  return `CREATE TABLE ${table} (${columns.join(", ")}, TIMESTAMP KEY(timestamp)) ENGINE=Analytic WITH (enable_ttl='false')`;
}

/**
 * A Utf8 vector of the strings, built straight into its offsets and bytes: far quicker than
 * `vectorFromArray` for tag columns, whose few distinct values are encoded once each.
 */
function utf8Vector(values: readonly string[]): Vector<Utf8> {
  const encoder = new TextEncoder();
  const encoded = new Map<string, Uint8Array>();
  const parts = values.map((value) => {
    let bytes = encoded.get(value);
    if (bytes === undefined) {
      bytes = encoder.encode(value);
      encoded.set(value, bytes);
    }
    return bytes;
  });
  const valueOffsets = new Int32Array(values.length + 1);
  for (let i = 0; i < parts.length; i++) {
    valueOffsets[i + 1] = (valueOffsets[i] as number) + (parts[i] as Uint8Array).length;
  }
  const data = new Uint8Array(valueOffsets[values.length] as number);
  parts.forEach((bytes, i) => data.set(bytes, valueOffsets[i]));
  return makeVector(makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets, data }));
}

/** The batch as an Arrow table in TSBS column order: Utf8 tags, Int64 ms timestamps, Float64 fields. */
export function tsbsArrowTable(batch: TsbsBatch): Table {
  const columns: Record<string, Vector> = {};
  for (const tag of TSBS_TAGS) columns[tag] = utf8Vector(batch.tags[tag]);
  columns.timestamp = makeVector(BigInt64Array.from(batch.timestamps, (ms) => BigInt(ms)));
  for (const field of TSBS_FIELDS) columns[field] = makeVector(batch.fields[field]);
  return new Table(columns);
}

/** The batch as SDK points of `table`, one per row. */
function tsbsPoints(client: HoraeDBClient, table: string, batch: TsbsBatch): Point[] {
  const points = new Array<Point>(batch.numRows);
  for (let r = 0; r < batch.numRows; r++) {
    const point = client.point(table);
    for (const tag of TSBS_TAGS) point.tag(tag, batch.tags[tag][r] as string);
    for (const field of TSBS_FIELDS) point.field(field, batch.fields[field][r] as number);
    points[r] = point.timestamp(batch.timestamps[r] as number);
  }
  return points;
}

export class HoraeDb implements QueryTarget {
  readonly name = SYSTEM;
  readonly client: HoraeDBClient;
  /** The table queries run on. */
  readonly table: string;
  readonly #service: ChildService;
  /** The server's HTTP API, for its metrics. */
  readonly #httpUrl: string;
  readonly #stop: () => Promise<void>;

  private constructor(
    client: HoraeDBClient,
    table: string,
    service: ChildService,
    httpUrl: string,
    stop: () => Promise<void>,
  ) {
    this.client = client;
    this.table = table;
    this.#service = service;
    this.#httpUrl = httpUrl;
    this.#stop = stop;
  }

  /**
   * Bytes the server's memtables hold (from /metrics). Queries over their time range read them
   * rather than SSTs, so how much a run's queries do depends on where the last flush fell.
   */
  async memtableBytes(): Promise<number> {
    const response = await fetch(`${this.#httpUrl}/metrics`);
    if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
    return metricSum(await response.text(), "horaedb_memtable_bytes");
  }

  /** Starts the server with its default configuration (but for ports and data directory). */
  static async start(table: string): Promise<HoraeDb> {
    const dir = await mkdtemp(join(tmpdir(), "horaedb-bench-server-"));
    let service: ChildService | undefined;
    let client: HoraeDBClient | undefined;
    const stop = onCleanup(SYSTEM, async () => {
      await client?.close();
      await service?.stop(30_000);
      await rm(dir, { recursive: true, force: true });
    });
    try {
      const main = fileURLToPath(new URL("./main.js", import.meta.resolve("@horaedb/horaedb")));
      const args = ["--grpc-port", "0", "--http-port", "0", "--data-dir", join(dir, "data")];
      service = new ChildService(SYSTEM, process.execPath, [
        ...SERVER_NODE_FLAGS,
        main,
        ...args,
        "--log-level",
        "info",
      ]);
      const { grpc, http } = await listeningAddresses(service);
      client = new HoraeDBClient({ endpoints: [grpc], queryTimeoutMs: QUERY_TIMEOUT_MS });
      return new HoraeDb(client, table, service, `http://${http}`, stop);
    } catch (error) {
      await stop();
      throw error;
    }
  }

  async createTable(table: string): Promise<void> {
    await this.client.execute(createTableSql(table));
  }

  async dropTable(table: string): Promise<void> {
    await this.client.execute(`DROP TABLE ${table}`);
  }

  /** The columnar path: each Arrow table in one writeArrow call, `concurrency` calls in flight. */
  async ingestColumnar(
    table: string,
    tables: readonly Table[],
    concurrency: number,
    onTable: (table: Table) => void,
  ): Promise<void> {
    await forEachConcurrently(
      tables,
      concurrency,
      async (data) => {
        await this.client.writeArrow(table, data, { tags: [...TSBS_TAGS], timestamp: "timestamp" });
      },
      onTable,
    );
  }

  /**
   * The series path: each batch built into points and sent in one write() call, `concurrency`
   * calls in flight. Building the points is part of it, as it is for an application.
   */
  async ingestSeries(
    table: string,
    batches: readonly TsbsBatch[],
    concurrency: number,
    onBatch: (batch: TsbsBatch) => void,
  ): Promise<void> {
    await forEachConcurrently(
      batches,
      concurrency,
      async (batch) => {
        await this.client.write(tsbsPoints(this.client, table, batch));
      },
      onBatch,
    );
  }

  async countRows(): Promise<number> {
    const result = await this.client.sql(`SELECT count(*) AS n FROM ${this.table}`, { tables: [this.table] });
    return Number(result.getChild("n")?.get(0) ?? 0);
  }

  async query(query: TsbsQuery): Promise<number> {
    const result = await this.client.sql(tsbsQuerySql(query, this.table), { tables: [this.table] });
    return result.numRows;
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
}

/** The gRPC and HTTP addresses from the server's `listening` log line. */
async function listeningAddresses(service: ChildService): Promise<{ grpc: string; http: string }> {
  let found: { grpc: string; http: string } | undefined;
  service.onLine((line) => {
    if (found !== undefined || !line.startsWith("{")) return;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; grpc?: unknown; http?: unknown };
      if (entry.msg === "listening" && typeof entry.grpc === "string" && typeof entry.http === "string")
        found = { grpc: entry.grpc, http: entry.http };
    } catch {
      // Not a log line.
    }
  });
  await service.waitUntil(() => Promise.resolve(found !== undefined), START_TIMEOUT_MS, "listening");
  return found as { grpc: string; http: string };
}

/** The sum of a metric's samples (every label set) in Prometheus text exposition. */
export function metricSum(exposition: string, name: string): number {
  let sum = 0;
  for (const line of exposition.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}
