import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createLogger, type BoundAddresses } from "@horaedb/common";
import { loadStorageProto, type storage } from "@horaedb/proto";
import { register as globalRegistry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HoraeDBServer, resolveHoraeDBConfig } from "../src/index.js";
import { queryKind } from "../src/server/metrics.js";

let dataDir: string;
// Recent timestamps: rows older than the default TTL (7 days) are hidden from reads.
const T = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
const servers: HoraeDBServer[] = [];
const clients: grpc.Client[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "horaedb-metrics-"));
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.stop()));
  rmSync(dataDir, { recursive: true, force: true });
});

async function startServer(
  dir = dataDir,
): Promise<{ server: HoraeDBServer; addresses: BoundAddresses; client: storage.StorageServiceClient }> {
  const config = resolveHoraeDBConfig({ server: { grpc_port: 0, http_port: 0 }, data_dir: dir });
  const server = new HoraeDBServer(config, { logger: createLogger({ name: "horaedb", level: "silent" }) });
  servers.push(server);
  const addresses = await server.start();
  const { StorageService } = loadStorageProto().horaedb.storage.v1;
  const client = new StorageService(addresses.grpc, grpc.credentials.createInsecure());
  clients.push(client);
  return { server, addresses, client };
}

function write(
  client: storage.StorageServiceClient,
  request: storage.WriteRequest,
): Promise<storage.WriteResponse__Output> {
  return new Promise((resolve, reject) => {
    client.Write(request, (err, res) => (err !== null ? reject(err) : resolve(res!)));
  });
}

function seriesRequest(table: string, hosts: string[], timestamps: number[]): storage.WriteTableRequest {
  return {
    table,
    series: {
      tagNames: ["host"],
      fieldNames: ["usage"],
      entries: hosts.map((host) => ({
        tags: [{ nameIndex: 0, value: { stringValue: host } }],
        fieldGroups: timestamps.map((ts, i) => ({
          timestamp: ts,
          fields: [{ nameIndex: 0, value: { float64Value: i + 0.5 } }],
        })),
      })),
    },
  };
}

async function postSql(http: string, query: string): Promise<number> {
  const response = await fetch(`http://${http}/sql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  await response.arrayBuffer();
  return response.status;
}

interface Scrape {
  readonly contentType: string | null;
  readonly text: string;
  /** The value of a sample, or undefined when the exposition has none with exactly these labels. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

async function scrape(http: string): Promise<Scrape> {
  const response = await fetch(`http://${http}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.length === 0) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (match !== null) samples.set(`${match[1]}${match[2] ?? ""}`, Number(match[3]));
  }
  return {
    contentType: response.headers.get("content-type"),
    text,
    value(name, labels = {}) {
      const entries = Object.entries(labels);
      const key =
        entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}="${v}"`).join(",")}}`;
      return samples.get(key);
    },
  };
}

describe("GET /metrics", () => {
  it("counts writes and queries, and reports the engine's memtables, tables and flushes", async () => {
    const { server, addresses, client } = await startServer();
    const http = addresses.http;

    const ok = await write(client, {
      tableRequests: [seriesRequest("cpu", ["a", "b"], [T + 1000, T + 2000])],
    });
    expect(ok.successRows).toBe("4");
    const conflicting = seriesRequest("cpu", ["a"], [T + 3000]);
    conflicting.series!.entries![0]!.fieldGroups![0]!.fields![0]!.value = { stringValue: "oops" };
    const refused = await write(client, { tableRequests: [conflicting] });
    expect(refused.failedRows).toBe("1");

    expect(await postSql(http, "SELECT * FROM cpu")).toBe(200);
    expect(await postSql(http, "SELECT * FROM missing")).toBe(404);
    expect(await postSql(http, "CREATE TABLE")).toBe(400);

    const before = await scrape(http);
    expect(before.contentType).toBe(server.metrics.registry.contentType);
    expect(before.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(before.value("horaedb_write_rows_total", { status: "ok" })).toBe(4);
    expect(before.value("horaedb_write_rows_total", { status: "failed" })).toBe(1);
    expect(before.value("horaedb_write_request_duration_seconds_count")).toBe(2);
    expect(before.value("horaedb_write_request_duration_seconds_bucket", { le: "+Inf" })).toBe(2);
    expect(before.value("horaedb_query_duration_seconds_count", { kind: "select" })).toBe(2);
    expect(before.value("horaedb_query_duration_seconds_count", { kind: "ddl" })).toBe(1);
    expect(before.value("horaedb_query_duration_seconds_count", { kind: "insert" })).toBeUndefined();
    expect(before.value("horaedb_query_errors_total", { code: "NOT_FOUND" })).toBe(1);
    expect(before.value("horaedb_query_errors_total", { code: "INVALID_ARGUMENT" })).toBe(1);
    expect(before.value("horaedb_open_tables")).toBe(1);
    expect(before.value("horaedb_memtable_bytes", { state: "mutable" })).toBe(
      server.engine.memory.mutableBytes,
    );
    expect(before.value("horaedb_memtable_bytes", { state: "mutable" })).toBeGreaterThan(0);
    expect(before.value("horaedb_memtable_bytes", { state: "immutable" })).toBe(0);
    expect(before.value("horaedb_flushes_total")).toBe(0);
    expect(before.value("horaedb_compaction_jobs_total", { result: "merged" })).toBe(0);
    expect(before.value("horaedb_compaction_running_jobs")).toBe(0);
    expect(before.value("horaedb_compaction_memory_bytes")).toBe(0);
    // The accepted write is one WAL record; the refused one never reached the WAL.
    const wal = server.engine.walUsage();
    expect(wal.records).toBe(1);
    expect(before.value("horaedb_wal_written_bytes_total")).toBe(wal.bytesWritten);
    expect(wal.bytesWritten).toBeGreaterThan(0);
    expect(before.value("horaedb_wal_retained_bytes")).toBe(wal.retainedBytes);
    expect(wal.retainedBytes).toBeGreaterThanOrEqual(wal.bytesWritten);
    expect(before.value("horaedb_decoded_cache_requests_total", { result: "miss" })).toBe(0);
    // prom-client's default process metrics are on the same registry.
    expect(before.value("process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(before.text).toMatch(/^nodejs_heap_size_used_bytes \d+/m);

    await server.engine.flush();
    const after = await scrape(http);
    expect(after.value("horaedb_flushes_total")).toBe(1);
    expect(after.value("horaedb_flush_duration_seconds_count")).toBe(1);
    expect(after.value("horaedb_flushed_rows_total")).toBe(4);
    expect(after.value("horaedb_flushed_bytes_total")).toBeGreaterThan(0);
    expect(after.value("horaedb_memtable_bytes", { state: "mutable" })).toBe(0);
    expect(after.value("horaedb_memtable_bytes", { state: "immutable" })).toBe(0);

    // The flush puts the rows of its SST in the cache (engine.prepopulate_decoded_cache), so
    // nothing decodes that SST, then or when it is read.
    const warmed = await scrape(http);
    expect(warmed.value("horaedb_decoded_cache_requests_total", { result: "miss" })).toBe(0);
    expect(warmed.value("horaedb_decoded_cache_bytes")).toBeGreaterThan(0);
    expect(await postSql(http, "SELECT * FROM cpu")).toBe(200);
    const read = await scrape(http);
    expect(read.value("horaedb_decoded_cache_requests_total", { result: "miss" })).toBe(0);
    expect(read.value("horaedb_decoded_cache_requests_total", { result: "hit" })).toBeGreaterThan(0);

    // Three more SSTs of the same hour: four files, enough for compaction to merge them (the
    // background check after a flush may merge them first; the metrics count the job either way).
    for (const host of ["c", "d", "e"]) {
      await write(client, { tableRequests: [seriesRequest("cpu", [host], [T + 1000])] });
      await server.engine.flush();
    }
    await server.engine.compact();
    const stats = server.engine.compactionStats();
    expect(stats.mergeJobs).toBe(1);
    const compacted = await scrape(http);
    expect(compacted.value("horaedb_compaction_jobs_total", { result: "merged" })).toBe(1);
    expect(compacted.value("horaedb_compaction_jobs_total", { result: "failed" })).toBe(0);
    expect(compacted.value("horaedb_compaction_duration_seconds_count", { kind: "merge" })).toBe(1);
    expect(compacted.value("horaedb_compaction_duration_seconds_sum", { kind: "merge" })).toBeCloseTo(
      stats.totalMs / 1000,
    );
    expect(stats.totalMs).toBeGreaterThan(0);
  });

  it("keeps each server's metrics apart, off the global registry", async () => {
    const other = mkdtempSync(join(tmpdir(), "horaedb-metrics-"));
    try {
      const first = await startServer();
      const second = await startServer(other);
      await write(first.client, { tableRequests: [seriesRequest("cpu", ["a"], [T + 1000])] });
      expect((await scrape(first.addresses.http)).value("horaedb_write_rows_total", { status: "ok" })).toBe(
        1,
      );
      const idle = await scrape(second.addresses.http);
      expect(idle.value("horaedb_write_rows_total", { status: "ok" })).toBe(0);
      expect(idle.value("horaedb_open_tables")).toBe(0);
      expect(globalRegistry.getSingleMetric("horaedb_write_rows_total")).toBeUndefined();
    } finally {
      await Promise.all(servers.splice(0).map((server) => server.stop()));
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("classifies statements by their first keyword", () => {
    expect(queryKind("  select 1")).toBe("select");
    expect(queryKind("-- note\nWITH x AS (SELECT 1) SELECT * FROM x")).toBe("select");
    expect(queryKind("/* c */ CREATE TABLE t (ts timestamp)")).toBe("ddl");
    expect(queryKind("drop table t")).toBe("ddl");
    expect(queryKind("ALTER TABLE t ADD COLUMN c double")).toBe("ddl");
    expect(queryKind("INSERT INTO t VALUES (1)")).toBe("insert");
    expect(queryKind("SHOW TABLES")).toBe("other");
    expect(queryKind("")).toBe("other");
    expect(queryKind("(SELECT 1)")).toBe("other");
    expect(queryKind("\n\t/* a */ -- b\n  insert INTO t VALUES (1)")).toBe("insert");
  });
});
