import { gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { Float64, Table, tableToIPC, Utf8, vectorFromArray } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadZstd, zstdCompress } from "@horaedb/proto";
import {
  HoraeDBClient,
  HoraeDBQueryError,
  HoraeDBTransportError,
  StatusCode,
  type HoraeDBClientOptions,
} from "../src/index.js";
import {
  FakeStorageServer,
  GrpcFailure,
  header,
  OK,
  routeTo,
  type FakeBehaviour,
} from "./fixtures/fake-storage-server.js";
import { HoraeDBServers } from "./fixtures/horaedb-server.js";

const fakes: FakeStorageServer[] = [];
const clients: HoraeDBClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await Promise.all(fakes.splice(0).map((f) => f.stop()));
});

async function fake(behaviour: FakeBehaviour = {}): Promise<FakeStorageServer> {
  const server = await FakeStorageServer.start(behaviour);
  fakes.push(server);
  return server;
}

function clientOf(options: HoraeDBClientOptions): HoraeDBClient {
  const client = new HoraeDBClient({ retry: { initialBackoffMs: 5, maxBackoffMs: 20 }, ...options });
  clients.push(client);
  return client;
}

const part = (hosts: string[], values: number[]) =>
  tableToIPC(
    new Table({ host: vectorFromArray(hosts, new Utf8()), value: vectorFromArray(values, new Float64()) }),
    "stream",
  );

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe("SQL against a real in-process server", () => {
  let servers: HoraeDBServers;
  beforeEach(() => {
    servers = new HoraeDBServers();
  });
  afterEach(() => servers.stopAll());

  it("creates a table, inserts rows and reads them back as an Arrow table, plain rows and a stream", async () => {
    const { endpoint } = await servers.start();
    const client = clientOf({ endpoints: [endpoint] });
    const ts = Math.floor(Date.now() / 1000) * 1000;
    await expect(
      client.execute(
        "CREATE TABLE sdk_cpu (host string TAG, usage double, ts timestamp NOT NULL, TIMESTAMP KEY(ts))",
      ),
    ).resolves.toBe(0);
    await expect(
      client.execute(`INSERT INTO sdk_cpu (host, usage, ts) VALUES ('a', 0.5, ${ts}), ('b', 1.5, ${ts + 1})`),
    ).resolves.toBe(2);

    const table = await client.sql("SELECT host, usage FROM sdk_cpu ORDER BY host", { tables: ["sdk_cpu"] });
    expect(table.numRows).toBe(2);
    expect(table.schema.fields.map((f) => f.name)).toEqual(["host", "usage"]);
    expect(table.getChild("usage")?.toArray()).toEqual(Float64Array.of(0.5, 1.5));

    expect(await client.sqlRows("SELECT host, usage, ts FROM sdk_cpu ORDER BY host")).toEqual([
      { host: "a", usage: 0.5, ts },
      { host: "b", usage: 1.5, ts: ts + 1 },
    ]);
    expect(await client.sqlRows("SELECT count(*) AS n FROM sdk_cpu")).toEqual([{ n: 2n }]);
    const batches = await collect(client.sqlStream("SELECT host FROM sdk_cpu ORDER BY host"));
    expect(batches.reduce((rows, batch) => rows + batch.numRows, 0)).toBe(2);
  });

  it("maps bad SQL and unknown tables to HoraeDBQueryError with the server's message", async () => {
    const { endpoint } = await servers.start();
    const client = clientOf({ endpoints: [endpoint] });
    const bad = (await client.sql("SELECT FROM").catch((e: unknown) => e)) as HoraeDBQueryError;
    expect(bad).toBeInstanceOf(HoraeDBQueryError);
    expect(bad).toMatchObject({
      code: StatusCode.STATUS_CODE_INVALID_ARGUMENT,
      retryable: false,
      message: expect.stringMatching(/^SQL syntax error at line 1, column \d+/) as unknown,
    });
    const missing = (await client
      .sqlRows("SELECT * FROM nope")
      .catch((e: unknown) => e)) as HoraeDBQueryError;
    expect(missing).toBeInstanceOf(HoraeDBQueryError);
    expect(missing.code).toBe(StatusCode.STATUS_CODE_NOT_FOUND);
    await expect(collect(client.sqlStream("SELECT * FROM nope"))).rejects.toBeInstanceOf(HoraeDBQueryError);
  });
});

describe("SQL against a scripted server", () => {
  it("reads result columns where the response put them, wherever its stream starts", async () => {
    // Header messages of 0 to 7 bytes move the stream to every offset modulo 8 in the response.
    let padding = 0;
    const server = await fake({
      sqlQuery: () => ({
        header: { ...OK, message: "x".repeat(padding) },
        arrow: { recordBatches: [part(["a", "b", "c"], [1, 2, 3])], compression: "COMPRESSION_NONE" },
      }),
    });
    const client = clientOf({ endpoints: [server.endpoint] });
    for (padding = 0; padding < 8; padding++) {
      const table = await client.sql("SELECT host, value FROM cpu", { tables: ["cpu"] });
      const values = table.getChild("value")?.data[0]?.values as Float64Array;
      expect(Array.from(values)).toEqual([1, 2, 3]);
      // A view of the response, not a copy of its own (see result-alignment.ts).
      expect(values.buffer.byteLength).toBeGreaterThan(values.byteLength);
    }
  });

  it("decodes every gzip-compressed IPC stream of the payload into one table, and into plain rows", async () => {
    const server = await fake({
      sqlQuery: () => ({
        header: OK,
        arrow: {
          recordBatches: [gzipSync(part(["a", "b"], [1, 2])), gzipSync(part(["c"], [3]))],
          compression: "COMPRESSION_GZIP",
        },
      }),
    });
    const client = clientOf({ endpoints: [server.endpoint], database: "metrics" });
    const table = await client.sql("SELECT host, value FROM cpu", { tables: ["cpu"], timeoutMs: 5_000 });
    expect(table.numRows).toBe(3);
    expect(table.schema.fields.map((f) => f.name)).toEqual(["host", "value"]);
    expect(await client.sqlRows("SELECT host, value FROM cpu")).toEqual([
      { host: "a", value: 1 },
      { host: "b", value: 2 },
      { host: "c", value: 3 },
    ]);
    const request = server.sqlRequests[0];
    expect(request).toMatchObject({
      sql: "SELECT host, value FROM cpu",
      tables: ["cpu"],
      context: { database: "metrics" },
      acceptCompression: "COMPRESSION_ZSTD",
    });
    expect(request?.timeoutMs).toBeGreaterThan(4_000);
    expect(request?.timeoutMs).toBeLessThanOrEqual(5_000);
  });

  it("decodes a zstd-compressed payload, and asks for gzip when the client is set to it", async () => {
    await loadZstd();
    const server = await fake({
      sqlQuery: () => ({
        header: OK,
        arrow: { recordBatches: [zstdCompress(part(["a", "b"], [1, 2]))], compression: "COMPRESSION_ZSTD" },
      }),
    });
    const client = clientOf({ endpoints: [server.endpoint], compression: "gzip" });
    expect(await client.sqlRows("SELECT host, value FROM cpu")).toEqual([
      { host: "a", value: 1 },
      { host: "b", value: 2 },
    ]);
    expect(server.sqlRequests[0]?.acceptCompression).toBe("COMPRESSION_GZIP");
  });

  it("keeps the schema of a result without rows", async () => {
    const server = await fake({
      sqlQuery: () => ({
        header: OK,
        arrow: { recordBatches: [part([], [])], compression: "COMPRESSION_NONE" },
      }),
    });
    const client = clientOf({ endpoints: [server.endpoint] });
    const table = await client.sql("SELECT host, value FROM cpu WHERE false");
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => f.name)).toEqual(["host", "value"]);
  });

  it("returns the affected rows of a statement without rows", async () => {
    const server = await fake({ sqlQuery: () => ({ header: OK, affectedRows: 7 }) });
    const client = clientOf({ endpoints: [server.endpoint] });
    expect(await client.execute("INSERT INTO cpu VALUES (1)")).toBe(7);
    expect(await client.sqlRows("INSERT INTO cpu VALUES (1)")).toEqual([{ affected_rows: 7n }]);
  });

  it("maps a header saying UNIMPLEMENTED to HoraeDBUnsupportedError and a failure to HoraeDBQueryError", async () => {
    let answer = header(StatusCode.STATUS_CODE_UNIMPLEMENTED, "window functions are not supported");
    const server = await fake({ sqlQuery: () => ({ header: answer }) });
    const client = clientOf({ endpoints: [server.endpoint] });
    await expect(client.sql("SELECT rank() OVER () FROM cpu")).rejects.toMatchObject({
      name: "HoraeDBUnsupportedError",
      message: "window functions are not supported",
    });
    answer = header(StatusCode.STATUS_CODE_INVALID_ARGUMENT, "table nope not found");
    const error = (await client.sql("SELECT * FROM nope").catch((e: unknown) => e)) as HoraeDBQueryError;
    expect(error).toBeInstanceOf(HoraeDBQueryError);
    expect(error).toMatchObject({
      code: StatusCode.STATUS_CODE_INVALID_ARGUMENT,
      message: "table nope not found",
      sql: "SELECT * FROM nope",
      retryable: false,
    });
    expect(server.sqlRequests).toHaveLength(2);
  });

  it("refreshes the route and retries a query answered ROUTE_STALE", async () => {
    const leader = await fake({
      sqlQuery: () => ({
        header: OK,
        arrow: { recordBatches: [part(["x"], [1])], compression: "COMPRESSION_NONE" },
      }),
    });
    const stale = await fake({
      sqlQuery: () => ({ header: header(StatusCode.STATUS_CODE_ROUTE_STALE, "moved") }),
    });
    let routeCalls = 0;
    const entry = await fake({
      route: (request) => routeTo(request, routeCalls++ === 0 ? stale.port : leader.port),
    });
    const client = clientOf({ endpoints: [entry.endpoint] });
    expect((await client.sql("SELECT * FROM cpu", { tables: ["cpu"] })).numRows).toBe(1);
    expect(stale.sqlRequests).toHaveLength(1);
    expect(leader.sqlRequests).toHaveLength(1);
    expect(entry.routeRequests).toHaveLength(2);
  });

  it("retries RESOURCE_EXHAUSTED and UNAVAILABLE answers", async () => {
    const answers = [
      header(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED, "busy", 50),
      header(StatusCode.STATUS_CODE_UNAVAILABLE, "opening"),
    ];
    const server = await fake({
      sqlQuery: () => {
        const failure = answers.shift();
        return failure !== undefined ? { header: failure } : { header: OK, affectedRows: 1 };
      },
    });
    const client = clientOf({ endpoints: [server.endpoint] });
    expect(await client.execute("INSERT INTO cpu VALUES (1)")).toBe(1);
    expect(server.sqlRequests).toHaveLength(3);
  });

  it("repeats a read statement after a transport failure, but not a statement that may change data", async () => {
    let calls = 0;
    const server = await fake({
      // Every other call fails as a dropped connection would.
      sqlQuery: () =>
        calls++ % 2 === 0
          ? new GrpcFailure(grpc.status.UNAVAILABLE, "connection reset")
          : { header: OK, affectedRows: 1 },
    });
    const client = clientOf({ endpoints: [server.endpoint] });
    expect(await client.execute("SELECT 1")).toBe(1);
    expect(server.sqlRequests).toHaveLength(2);
    const error = await client.execute("INSERT INTO cpu VALUES (1)").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HoraeDBTransportError);
    expect(error).toMatchObject({ grpcCode: grpc.status.UNAVAILABLE, method: "SqlQuery" });
    expect(server.sqlRequests).toHaveLength(3);
    await expect(client.execute("INSERT INTO cpu VALUES (1)", { retryTransportErrors: true })).resolves.toBe(
      1,
    );
  });

  it("streams record batches as the responses arrive", async () => {
    const server = await fake({
      streamSqlQuery: () => [
        { header: OK, arrow: { recordBatches: [part(["a"], [1])], compression: "COMPRESSION_NONE" } },
        {
          header: OK,
          arrow: { recordBatches: [gzipSync(part(["b", "c"], [2, 3]))], compression: "COMPRESSION_GZIP" },
        },
      ],
    });
    const client = clientOf({ endpoints: [server.endpoint] });
    const batches = await collect(client.sqlStream("SELECT * FROM cpu"));
    expect(batches.map((b) => b.numRows)).toEqual([1, 2]);
    expect(batches.flatMap((b) => b.getChild("host")?.toArray() as string[])).toEqual(["a", "b", "c"]);
  });

  it("throws when a stream fails part way, after the batches it already yielded", async () => {
    const server = await fake({
      streamSqlQuery: () => [
        { header: OK, arrow: { recordBatches: [part(["a"], [1])], compression: "COMPRESSION_NONE" } },
        { header: header(StatusCode.STATUS_CODE_INTERNAL, "scan failed") },
      ],
    });
    const client = clientOf({ endpoints: [server.endpoint] });
    const seen: number[] = [];
    const error = await (async () => {
      for await (const batch of client.sqlStream("SELECT * FROM cpu")) seen.push(batch.numRows);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([1]);
    expect(error).toBeInstanceOf(HoraeDBQueryError);
    expect(error).toMatchObject({ code: StatusCode.STATUS_CODE_INTERNAL, message: "scan failed" });
  });
});
