import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { createLogger, type BoundAddresses } from "@horaedb/common";
import {
  loadStorageProto,
  StatusCode,
  storageServiceDefinition,
  type storage,
  zstdCompress,
  zstdDecompress,
} from "@horaedb/proto";
import {
  Dictionary,
  Float64,
  Int32,
  makeVector,
  tableFromIPC,
  tableToIPC,
  TimestampMillisecond,
  Utf8,
  vectorFromArray,
  Table as ArrowTable,
} from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cellAt } from "../src/batch/column.js";
import { HoraeDBServer, resolveHoraeDBConfig, type HoraeDBConfigInput } from "../src/index.js";
import {
  storageServiceHandlers,
  storageServiceServerDefinition,
  type WriteRequestInput,
} from "../src/storage-service.js";

let dataDir: string;
// Recent timestamps: rows older than the default TTL (7 days) are hidden from reads.
const T = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
const servers: HoraeDBServer[] = [];
const clients: grpc.Client[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "horaedb-storage-service-"));
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.stop()));
  rmSync(dataDir, { recursive: true, force: true });
});

async function startServer(
  input: HoraeDBConfigInput = {},
): Promise<{ server: HoraeDBServer; addresses: BoundAddresses; client: storage.StorageServiceClient }> {
  const config = resolveHoraeDBConfig({
    ...input,
    server: { grpc_port: 0, http_port: 0 },
    data_dir: dataDir,
  });
  const server = new HoraeDBServer(config, { logger: createLogger({ name: "horaedb", level: "silent" }) });
  servers.push(server);
  const addresses = await server.start();
  const { StorageService } = loadStorageProto().horaedb.storage.v1;
  const client = new StorageService(addresses.grpc, grpc.credentials.createInsecure());
  clients.push(client);
  return { server, addresses, client };
}

function call<Req, Res>(
  fn: (req: Req, cb: (err: grpc.ServiceError | null, res?: Res) => void) => unknown,
  request: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(request, (err, res) => (err !== null ? reject(err) : resolve(res as Res)));
  });
}

const write = (client: storage.StorageServiceClient, request: storage.WriteRequest) =>
  call<storage.WriteRequest, storage.WriteResponse__Output>(client.Write.bind(client), request);

function seriesRequest(table: string, hosts: string[], timestamps: number[]): storage.WriteTableRequest {
  return {
    table,
    series: {
      tagNames: ["host"],
      fieldNames: ["usage", "count"],
      entries: hosts.map((host) => ({
        tags: [{ nameIndex: 0, value: { stringValue: host } }],
        fieldGroups: timestamps.map((ts, i) => ({
          timestamp: ts,
          fields: [
            { nameIndex: 0, value: { float64Value: i + 0.5 } },
            { nameIndex: 1, value: { int64Value: String(i) } },
          ],
        })),
      })),
    },
  };
}

async function rowsOf(server: HoraeDBServer, table: string, projection: string[]): Promise<unknown[][]> {
  const rows: unknown[][] = [];
  for await (const batch of server.engine.scan("public", table, { projection })) {
    for (let r = 0; r < batch.numRows; r++) rows.push(batch.columns.map((c) => cellAt(c, r)));
  }
  return rows.sort((a, b) => JSON.stringify(a, big).localeCompare(JSON.stringify(b, big)));
}
const big = (_k: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

describe("StorageService writes", () => {
  it("routes every table to this instance, and writes the series form, creating the table", async () => {
    const { server, addresses, client } = await startServer();
    const leader = { host: "127.0.0.1", port: addresses.grpcPort };
    // Standalone: a table that does not exist yet is led here too (a write creates it here).
    const before = await call(client.Route.bind(client), { tables: ["cpu"] });
    expect(before).toMatchObject({ header: { code: "STATUS_CODE_OK" }, routes: [{ table: "cpu", leader }] });
    const response = await write(client, {
      tableRequests: [seriesRequest("cpu", ["a", "b"], [T + 1000, T + 2000])],
    });
    expect(response).toMatchObject({
      header: { code: "STATUS_CODE_OK" },
      successRows: "4",
      failedRows: "0",
      tableResults: [{ table: "cpu", rows: "4", header: { code: "STATUS_CODE_OK" } }],
    });
    expect(await rowsOf(server, "cpu", ["host", "timestamp", "usage", "count"])).toEqual([
      ["a", T + 1000, 0.5, 0n],
      ["a", T + 2000, 1.5, 1n],
      ["b", T + 1000, 0.5, 0n],
      ["b", T + 2000, 1.5, 1n],
    ]);
    const route = await call(client.Route.bind(client), { tables: ["cpu", "missing"] });
    expect(route.routes).toEqual([
      expect.objectContaining({ table: "cpu", leader }),
      expect.objectContaining({ table: "missing", leader }),
    ]);
  });

  it("routes to the advertise host when one is configured", async () => {
    const { addresses, client } = await startServer({ advertise_host: "db1.example" });
    await write(client, { tableRequests: [seriesRequest("cpu", ["a"], [T + 1000])] });
    const route = await call(client.Route.bind(client), { tables: ["cpu"] });
    expect(route.routes).toEqual([
      expect.objectContaining({ table: "cpu", leader: { host: "db1.example", port: addresses.grpcPort } }),
    ]);
  });

  it("writes the Arrow columnar form, plain, gzip- and zstd-compressed", async () => {
    const { server, client } = await startServer();
    const arrow = new ArrowTable({
      host: vectorFromArray(["x", "y"], new Utf8()),
      ts: makeVector({
        type: new TimestampMillisecond(),
        data: BigInt64Array.from([BigInt(T + 5000), BigInt(T + 6000)]),
      } as never),
      value: vectorFromArray([1.25, 2.5], new Float64()),
    });
    const ipc = tableToIPC(arrow, "stream");
    const plain = await write(client, {
      tableRequests: [{ table: "m", arrow: { ipcStream: ipc, tagColumns: ["host"], timestampColumn: "ts" } }],
    });
    expect(plain.header?.code).toBe("STATUS_CODE_OK");
    const gz = await write(client, {
      tableRequests: [
        {
          table: "m2",
          arrow: {
            ipcStream: gzipSync(ipc),
            compression: "COMPRESSION_GZIP",
            tagColumns: ["host"],
            timestampColumn: "ts",
          },
        },
      ],
    });
    expect(gz.header?.code).toBe("STATUS_CODE_OK");
    const zstd = await write(client, {
      tableRequests: [
        {
          table: "m3",
          arrow: {
            ipcStream: zstdCompress(ipc),
            compression: "COMPRESSION_ZSTD",
            tagColumns: ["host"],
            timestampColumn: "ts",
          },
        },
      ],
    });
    expect(zstd.header?.code).toBe("STATUS_CODE_OK");
    for (const table of ["m", "m2", "m3"]) {
      expect(await rowsOf(server, table, ["host", "ts", "value"])).toEqual([
        ["x", T + 5000, 1.25],
        ["y", T + 6000, 2.5],
      ]);
      expect(server.engine.table("public", table)?.schema.column("host")?.isTag).toBe(true);
    }
  });

  it("writes Arrow tags sent as Dictionary<Utf8> as TAG columns", async () => {
    const { server, client } = await startServer();
    const arrow = new ArrowTable({
      host: vectorFromArray(["x", "y", "x"], new Dictionary(new Utf8(), new Int32())),
      ts: makeVector({
        type: new TimestampMillisecond(),
        data: BigInt64Array.from([T + 1, T + 2, T + 3].map(BigInt)),
      } as never),
      value: vectorFromArray([1, 2, 3], new Float64()),
    });
    const response = await write(client, {
      tableRequests: [
        { table: "d", arrow: { ipcStream: tableToIPC(arrow), tagColumns: ["host"], timestampColumn: "ts" } },
      ],
    });
    expect(response.header?.code).toBe("STATUS_CODE_OK");
    expect(server.engine.table("public", "d")?.schema.column("host")).toMatchObject({
      type: "string",
      isTag: true,
    });
    expect(await rowsOf(server, "d", ["host", "ts", "value"])).toEqual([
      ["x", T + 1, 1],
      ["x", T + 3, 3],
      ["y", T + 2, 2],
    ]);
  });

  it("answers INVALID_ARGUMENT to bytes that are not a WriteRequest", async () => {
    const { addresses } = await startServer();
    const raw = new grpc.Client(addresses.grpc, grpc.credentials.createInsecure());
    clients.push(raw);
    const error = await new Promise<grpc.ServiceError | null>((resolve) => {
      raw.makeUnaryRequest(
        "/horaedb.storage.v1.StorageService/Write",
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        // table_requests (field 2) announcing 9 bytes of which only 1 follows.
        Buffer.from([0x12, 9, 0x0a]),
        (err) => resolve(err),
      );
    });
    expect(error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(error?.details).toMatch(/the WriteRequest cannot be decoded: length 9 runs past the end/);
  });

  it("takes decoded messages too, for handlers registered with the generated definition", async () => {
    const { server } = await startServer();
    const handlers = storageServiceHandlers({
      engine: () => server.engine,
      endpoint: () => ({ host: "127.0.0.1", port: 0 }),
      logger: createLogger({ name: "test", level: "silent" }),
    });
    const { requestSerialize, requestDeserialize } = storageServiceDefinition().Write;
    const request = requestDeserialize(
      requestSerialize({ tableRequests: [seriesRequest("obj", ["a"], [T + 1000])] }),
    );
    const response = await new Promise<storage.WriteResponse | null | undefined>((resolve, reject) => {
      handlers.Write(
        { request } as grpc.ServerUnaryCall<WriteRequestInput, storage.WriteResponse>,
        (err, res) => (err ? reject(new Error(String(err.details))) : resolve(res)),
      );
    });
    expect(response).toMatchObject({ header: { code: "STATUS_CODE_OK" }, successRows: "1" });
    expect(await rowsOf(server, "obj", ["host", "usage"])).toEqual([["a", 0.5]]);
  });

  it("answers SqlQuery with plain messages unless told its responses may come encoded", async () => {
    const { server } = await startServer();
    const context = {
      engine: () => server.engine,
      endpoint: () => ({ host: "127.0.0.1", port: 0 }),
      logger: createLogger({ name: "test", level: "silent" }),
    };
    const method = storageServiceDefinition().SqlQuery;
    const request = method.requestDeserialize(
      method.requestSerialize({ context: { database: "public" }, sql: "SELECT 1 AS one" }),
    );
    const answer = (handlers: ReturnType<typeof storageServiceHandlers>) =>
      new Promise<unknown>((resolve, reject) => {
        handlers.SqlQuery(
          { request, once: () => undefined, cancelled: false } as unknown as grpc.ServerUnaryCall<
            storage.SqlQueryRequest__Output,
            storage.SqlQueryResponse
          >,
          (err, res) => (err ? reject(new Error(String(err.details))) : resolve(res)),
        );
      });
    // The generated serializer takes what the handlers answer by default.
    const plain = (await answer(storageServiceHandlers(context))) as storage.SqlQueryResponse;
    const decoded = method.responseDeserialize(method.responseSerialize(plain));
    expect(
      tableFromIPC(decoded.arrow?.recordBatches[0] as Buffer)
        .getChild("one")
        ?.toArray(),
    ).toEqual(BigInt64Array.of(1n));
    // Encoded: only the server definition's serializer sends it, as the same message.
    const encoded = await answer(storageServiceHandlers({ ...context, encodedSqlResponses: true }));
    const sent = storageServiceServerDefinition().SqlQuery as typeof method;
    const decodedEncoded = method.responseDeserialize(
      sent.responseSerialize(encoded as storage.SqlQueryResponse),
    );
    expect(decodedEncoded.header?.code).toBe("STATUS_CODE_OK");
    expect(decodedEncoded.arrow?.recordBatches.map((b) => Buffer.from(b))).toEqual(
      decoded.arrow?.recordBatches.map((b) => Buffer.from(b)),
    );
  });

  it("applies each table request whole or not at all and says which failed and why", async () => {
    const { server, client } = await startServer();
    await write(client, { tableRequests: [seriesRequest("cpu", ["a"], [T + 1000])] });
    const conflicting = seriesRequest("cpu", ["a"], [T + 3000]);
    conflicting.series!.entries![0]!.fieldGroups![0]!.fields![0]!.value = { stringValue: "oops" };
    const response = await write(client, {
      tableRequests: [
        seriesRequest("mem", ["a"], [T + 1000]),
        conflicting,
        { table: "", series: { tagNames: [], fieldNames: [], entries: [] } },
      ],
    });
    expect(response.header?.code).toBe("STATUS_CODE_INVALID_ARGUMENT");
    expect(response.successRows).toBe("1");
    expect(response.tableResults.map((r) => [r.table, r.header?.code])).toEqual([
      ["mem", "STATUS_CODE_OK"],
      ["cpu", "STATUS_CODE_INVALID_ARGUMENT"],
      ["", "STATUS_CODE_INVALID_ARGUMENT"],
    ]);
    expect(response.tableResults[1]?.header?.message).toMatch(
      /column "usage" is double, the write has string/,
    );
    expect(response.tableResults[2]?.header?.message).toMatch(/empty table name/);
    // The refused request changed nothing.
    expect(await rowsOf(server, "cpu", ["timestamp"])).toEqual([[T + 1000]]);
  });

  it.each([
    [
      "an out-of-range timestamp",
      (r: storage.WriteTableRequest) =>
        (r.series!.entries![0]!.fieldGroups![0]!.timestamp = "99999999999999999999"),
      /timestamp .* out of range/,
    ],
    [
      "a tag listed twice",
      (r: storage.WriteTableRequest) => (r.series!.tagNames = ["host", "host"]),
      /tag name "host" is listed twice/,
    ],
    [
      "a field index out of range",
      (r: storage.WriteTableRequest) => (r.series!.entries![0]!.fieldGroups![0]!.fields![0]!.nameIndex = 9),
      /field name index 9 is out of range/,
    ],
    [
      "a non-string tag",
      (r: storage.WriteTableRequest) => (r.series!.entries![0]!.tags![0]!.value = { int64Value: "1" }),
      /tag "host" must be a string/,
    ],
    ["no rows", (r: storage.WriteTableRequest) => (r.series!.entries = []), /no rows/],
    [
      "a name that is both a tag and a field",
      (r: storage.WriteTableRequest) => (r.series!.fieldNames = ["host", "count"]),
      /"host" is both a tag and a field/,
    ],
    [
      "a field group without a timestamp",
      (r: storage.WriteTableRequest) => delete r.series!.entries![0]!.fieldGroups![0]!.timestamp,
      /series entry 0: a field group has no timestamp/,
    ],
  ])("refuses %s with INVALID_ARGUMENT naming the problem", async (_name, mutate, message) => {
    const { client } = await startServer();
    const request = seriesRequest("cpu", ["a"], [T + 1000]);
    mutate(request);
    const response = await write(client, { tableRequests: [request] });
    expect(response.tableResults[0]?.header?.code).toBe("STATUS_CODE_INVALID_ARGUMENT");
    expect(response.tableResults[0]?.header?.message).toMatch(message);
  });

  it("adds the columns a later write carries, unless auto_add_columns is off", async () => {
    const { server, client } = await startServer();
    await write(client, { tableRequests: [seriesRequest("cpu", ["a"], [T + 1000])] });
    const wider = seriesRequest("cpu", ["a"], [T + 2000]);
    wider.series!.fieldNames = ["usage", "count", "temp"];
    wider.series!.entries![0]!.fieldGroups![0]!.fields!.push({ nameIndex: 2, value: { float64Value: 21.5 } });
    const added = await write(client, { tableRequests: [wider] });
    expect(added.header?.code).toBe("STATUS_CODE_OK");
    expect(await rowsOf(server, "cpu", ["timestamp", "temp"])).toEqual([
      [T + 1000, null],
      [T + 2000, 21.5],
    ]);
    await server.stop();
    servers.splice(servers.indexOf(server), 1);

    const fixed = await startServer({ engine: { auto_add_columns: false } });
    wider.series!.fieldNames = ["usage", "count", "humidity"];
    const refused = await write(fixed.client, { tableRequests: [wider] });
    expect(refused.tableResults[0]?.header?.code).toBe("STATUS_CODE_INVALID_ARGUMENT");
    expect(refused.tableResults[0]?.header?.message).toMatch(/humidity/);
    expect(fixed.server.engine.table("public", "cpu")?.schema.columns.map((c) => c.name)).not.toContain(
      "humidity",
    );
  });

  it("takes a timestamp of 0 when it is sent", async () => {
    const { server, client } = await startServer();
    // Without a TTL: a row of 1970 would be hidden as expired.
    await sqlQuery(client, {
      sql:
        "CREATE TABLE epoch (host string TAG, usage double, count bigint, timestamp timestamp NOT NULL, " +
        "TIMESTAMP KEY(timestamp)) WITH (enable_ttl='false')",
    });
    const response = await write(client, { tableRequests: [seriesRequest("epoch", ["a"], [0])] });
    expect(response.header?.code).toBe("STATUS_CODE_OK");
    expect(await rowsOf(server, "epoch", ["timestamp"])).toEqual([[0]]);
  });

  it("refuses writes and CREATE TABLE in a schema it does not have, NOT_FOUND naming it, until configured", async () => {
    const first = await startServer();
    const written = await write(first.client, {
      context: { database: "metrics" },
      tableRequests: [seriesRequest("cpu", ["a"], [T + 1000])],
    });
    expect(written.header?.code).toBe("STATUS_CODE_NOT_FOUND");
    expect(written.tableResults.map((r) => [r.table, r.header?.code, r.header?.message])).toEqual([
      [
        "cpu",
        "STATUS_CODE_NOT_FOUND",
        "table metrics.cpu: schema metrics does not exist (this instance has public)",
      ],
    ]);
    const created = await sqlQuery(first.client, {
      sql: "CREATE TABLE metrics.mem (host string TAG, v double, ts timestamp NOT NULL, TIMESTAMP KEY(ts))",
    });
    expect(created.header?.code).toBe(StatusCode.STATUS_CODE_NOT_FOUND);
    expect(created.header?.message).toMatch(/schema metrics does not exist/);
    expect(first.server.engine.tables("metrics")).toEqual([]);
    await first.server.stop();

    // Listed in the configuration, the schema takes new tables; public is always there.
    const second = await startServer({ schemas: ["metrics"] });
    const again = await write(second.client, {
      context: { database: "metrics" },
      tableRequests: [seriesRequest("cpu", ["a"], [T + 1000])],
    });
    expect(again.header?.code).toBe("STATUS_CODE_OK");
    expect(second.server.engine.tables("metrics").map((t) => t.name)).toEqual(["cpu"]);
    await second.server.stop();

    // Dropped from the configuration, the schema keeps serving the tables it holds.
    const third = await startServer();
    const kept = await write(third.client, {
      context: { database: "metrics" },
      tableRequests: [seriesRequest("cpu", ["a"], [T + 2000]), seriesRequest("disk", ["a"], [T])],
    });
    expect(kept.tableResults.map((r) => r.header?.code)).toEqual(["STATUS_CODE_OK", "STATUS_CODE_OK"]);
  });

  it("refuses an unknown codec, bad compressed data, a payload inflating past the limit, and a request over the size limit", async () => {
    const limit = 64 * 1024;
    const { client, server } = await startServer({ engine: { max_request_bytes: limit } });
    const arrowRequest = (ipcStream: Uint8Array, compression: storage.Compression) => ({
      tableRequests: [{ table: "m", arrow: { ipcStream, compression, tagColumns: [] } }],
    });
    const unknown = await write(client, arrowRequest(new Uint8Array(8), 7 as storage.Compression));
    expect(unknown.tableResults[0]?.header?.message).toMatch(/compression 7 is not supported by this server/);
    const notZstd = await write(client, arrowRequest(new Uint8Array(8), "COMPRESSION_ZSTD"));
    expect(notZstd.tableResults[0]?.header).toMatchObject({
      code: "STATUS_CODE_INVALID_ARGUMENT",
      message: "table m: not a zstd frame (bad magic number)",
    });
    // A few KiB that inflate past max_request_bytes are refused before they are inflated.
    const bomb = new Uint8Array(limit + 1);
    const zstdBomb = await write(client, arrowRequest(zstdCompress(bomb), "COMPRESSION_ZSTD"));
    expect(zstdBomb.tableResults[0]?.header?.message).toBe(
      `table m: the zstd frame declares ${limit + 1} bytes, over the limit of ${limit}`,
    );
    const gzipBomb = await write(client, arrowRequest(gzipSync(bomb), "COMPRESSION_GZIP"));
    expect(gzipBomb.tableResults[0]?.header?.message).toBe(
      `table m: the gzip data decompresses to more than the limit of ${limit} bytes`,
    );
    expect(server.engine.table("public", "m")).toBeUndefined();
    const huge = seriesRequest(
      "cpu",
      Array.from({ length: 2000 }, (_, i) => `host_${i}`),
      [1000],
    );
    await expect(write(client, { tableRequests: [huge] })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
    });
  });

  it("sums up a StreamWrite of both forms and keeps every acknowledged row across a restart", async () => {
    const first = await startServer();
    const arrow = new ArrowTable({
      host: vectorFromArray(["x", "y", "z"], new Utf8()),
      ts: makeVector({
        type: new TimestampMillisecond(),
        data: BigInt64Array.from([BigInt(T + 5000), BigInt(T + 6000), BigInt(T + 7000)]),
      } as never),
      value: vectorFromArray([1.25, 2.5, 3.75], new Float64()),
    });
    const response = await new Promise<storage.WriteResponse__Output>((resolve, reject) => {
      const stream = first.client.StreamWrite((err, res) =>
        err !== null ? reject(err) : resolve(res as storage.WriteResponse__Output),
      );
      for (let i = 0; i < 3; i++)
        stream.write({ tableRequests: [seriesRequest("cpu", [`h${i}`], [T + 1000, T + 2000])] });
      stream.write({
        tableRequests: [
          {
            table: "m",
            arrow: { ipcStream: tableToIPC(arrow, "stream"), tagColumns: ["host"], timestampColumn: "ts" },
          },
        ],
      });
      stream.end();
    });
    expect(response).toMatchObject({ header: { code: "STATUS_CODE_OK" }, successRows: "9" });
    expect(response.tableResults.map((r) => [r.table, r.rows])).toEqual([
      ["cpu", "2"],
      ["cpu", "2"],
      ["cpu", "2"],
      ["m", "3"],
    ]);
    await first.server.stop();
    servers.splice(servers.indexOf(first.server), 1);
    const second = await startServer();
    expect(await rowsOf(second.server, "cpu", ["host"])).toHaveLength(6);
    expect(await rowsOf(second.server, "m", ["host", "ts", "value"])).toEqual([
      ["x", T + 5000, 1.25],
      ["y", T + 6000, 2.5],
      ["z", T + 7000, 3.75],
    ]);
  });
});

const sqlQuery = (client: storage.StorageServiceClient, request: storage.SqlQueryRequest) =>
  call<storage.SqlQueryRequest, storage.SqlQueryResponse__Output>(client.SqlQuery.bind(client), request);

function decodeRows(payload: storage.ArrowPayload__Output | null | undefined): Record<string, unknown>[] {
  const streams = payload?.recordBatches ?? [];
  const decompress = (bytes: Uint8Array) => {
    if (payload?.compression === "COMPRESSION_GZIP") return gunzipSync(bytes);
    if (payload?.compression === "COMPRESSION_ZSTD") return zstdDecompress(bytes, 1 << 30);
    return bytes;
  };
  return streams.flatMap((bytes) =>
    tableFromIPC(decompress(bytes))
      .toArray()
      .map((row: { toJSON(): Record<string, unknown> }) => row.toJSON()),
  );
}

/** `n` rows of series "host-<i % 100>" into a table `big (host TAG, v double, ts)`. */
async function fillBigTable(server: HoraeDBServer, client: storage.StorageServiceClient, n: number) {
  const created = await sqlQuery(client, {
    sql: "CREATE TABLE big (host string TAG, v double, ts timestamp NOT NULL, TIMESTAMP KEY(ts))",
  });
  expect(created.header?.code).toBe(StatusCode.STATUS_CODE_OK);
  const hosts = Array.from({ length: n }, (_, i) => `host-${i % 100}-${"x".repeat(20)}`);
  await server.engine.write("public", "big", {
    batch: {
      names: ["host", "v", "ts"],
      columns: [
        { type: "string", values: hosts, validity: null },
        { type: "double", values: Float64Array.from(hosts, (_, i) => i / 2), validity: null },
        { type: "timestamp", values: Float64Array.from(hosts, (_, i) => T + i), validity: null },
      ],
      numRows: n,
    },
    tagNames: new Set(["host"]),
    timestampColumn: "ts",
  });
}

describe("StorageService SQL", () => {
  it("runs DDL, INSERT and SELECT through SqlQuery, rows as Arrow IPC streams", async () => {
    const { client } = await startServer();
    const created = await sqlQuery(client, {
      sql: "CREATE TABLE cpu (host string TAG, usage double, ts timestamp NOT NULL, TIMESTAMP KEY(ts))",
    });
    expect(created).toMatchObject({ header: { code: StatusCode.STATUS_CODE_OK }, affectedRows: "0" });
    const inserted = await sqlQuery(client, {
      sql: `INSERT INTO cpu (host, usage, ts) VALUES ('a', 1.5, ${T}), ('b', -2, ${T + 1})`,
    });
    expect(inserted).toMatchObject({ output: "affectedRows", affectedRows: "2" });
    const selected = await sqlQuery(client, { sql: "SELECT host, usage, ts FROM cpu ORDER BY host" });
    expect(selected.output).toBe("arrow");
    expect(selected.arrow?.compression).toBe("COMPRESSION_NONE");
    expect(decodeRows(selected.arrow)).toEqual([
      { host: "a", usage: 1.5, ts: T },
      { host: "b", usage: -2, ts: T + 1 },
    ]);
    const empty = await sqlQuery(client, { sql: "SELECT host FROM cpu WHERE host = 'zz'" });
    expect(empty.arrow?.recordBatches).toHaveLength(1);
    expect(
      tableFromIPC(empty.arrow?.recordBatches[0] as Uint8Array).schema.fields.map((f) => f.name),
    ).toEqual(["host"]);
  });

  it("answers bad SQL and unknown tables in the header, with the position", async () => {
    const { client } = await startServer();
    const bad = await sqlQuery(client, { sql: "SELECT FROM" });
    expect(bad.header?.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(bad.header?.message).toMatch(/^SQL syntax error at line 1, column \d+/);
    expect(bad.output).toBeUndefined();
    const missing = await sqlQuery(client, { sql: "SELECT * FROM nope" });
    expect(missing.header?.code).toBe(StatusCode.STATUS_CODE_NOT_FOUND);
    expect(missing.header?.message).toMatch(/nope.*\(at line 1, column 15\)/);
  });

  it("compresses results over 1 MiB with the codec the client accepts, and only then", async () => {
    const { server, client } = await startServer();
    await fillBigTable(server, client, 40_000);
    // A computed string, not the TAG's dictionary-encoded values: a result of about 1.9 MB.
    const sql = "SELECT upper(host) AS h, v, ts FROM big";
    const zipped = await sqlQuery(client, { sql, acceptCompression: "COMPRESSION_GZIP" });
    expect(zipped.arrow?.compression).toBe("COMPRESSION_GZIP");
    const rows = decodeRows(zipped.arrow);
    expect(rows).toHaveLength(40_000);
    const zstd = await sqlQuery(client, { sql, acceptCompression: "COMPRESSION_ZSTD" });
    expect(zstd.arrow?.compression).toBe("COMPRESSION_ZSTD");
    expect(decodeRows(zstd.arrow)).toEqual(rows);
    const plain = await sqlQuery(client, { sql });
    expect(plain.arrow?.compression).toBe("COMPRESSION_NONE");
    expect(decodeRows(plain.arrow)).toEqual(rows);
    const small = await sqlQuery(client, {
      sql: "SELECT count(*) AS n FROM big",
      acceptCompression: "COMPRESSION_GZIP",
    });
    expect(small.arrow?.compression).toBe("COMPRESSION_NONE");
    expect(decodeRows(small.arrow)).toEqual([{ n: 40_000n }]);
  });

  it("answers DEADLINE_EXCEEDED when the statement runs past timeout_ms", async () => {
    const { server, client } = await startServer();
    await fillBigTable(server, client, 200_000);
    const response = await sqlQuery(client, {
      sql: "SELECT host, count(*), avg(v) FROM big GROUP BY host ORDER BY host",
      timeoutMs: 1,
    });
    expect(response.header).toMatchObject({
      code: StatusCode.STATUS_CODE_DEADLINE_EXCEEDED,
      message: "query exceeded its timeout of 1 ms",
    });
  });

  it("stops a running statement when its client cancels the call or its deadline passes, and counts it as CANCELLED", async () => {
    const { server, client } = await startServer();
    await fillBigTable(server, client, 1_000_000);
    const cancelledCount = async () =>
      (await server.metrics.queryErrors.get()).values.find((v) => v.labels["code"] === "CANCELLED")?.value ??
      0;
    // A statement answered normally is not counted as cancelled when grpc-js ends its call.
    await sqlQuery(client, { sql: "SELECT count(*) FROM big" });
    expect(await cancelledCount()).toBe(0);

    const outcome = new Promise<grpc.ServiceError | null>((resolve) => {
      // A million groups: hundreds of milliseconds of aggregation, with a checkpoint per batch
      // read, so the cancel lands while it runs (a sort can end before the cancel is seen).
      const running = client.SqlQuery(
        { sql: "SELECT v, count(*) AS n FROM big GROUP BY v ORDER BY v DESC LIMIT 1" },
        (err: grpc.ServiceError | null) => resolve(err),
      );
      setTimeout(() => running.cancel(), 50);
    });
    expect((await outcome)?.code).toBe(grpc.status.CANCELLED);
    const cancelledReaches = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while ((await cancelledCount()) < n && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await cancelledCount()).toBe(n);
    };
    await cancelledReaches(1);

    // The same through StreamSqlQuery: the statement stops when the stream is cancelled.
    const streamed = new Promise<grpc.ServiceError | undefined>((resolve) => {
      const stream = client.StreamSqlQuery({
        sql: "SELECT v, count(*) AS n FROM big GROUP BY v ORDER BY v DESC LIMIT 1",
      });
      stream.on("data", () => undefined);
      stream.on("error", (err: grpc.ServiceError) => resolve(err));
      stream.on("end", () => resolve(undefined));
      setTimeout(() => stream.cancel(), 50);
    });
    expect((await streamed)?.code).toBe(grpc.status.CANCELLED);
    await cancelledReaches(2);

    // And when the call's own deadline passes: the client sees DEADLINE_EXCEEDED, the statement stops.
    const expired = new Promise<grpc.ServiceError | null>((resolve) => {
      client.SqlQuery(
        { sql: "SELECT v, count(*) AS n FROM big GROUP BY v ORDER BY v DESC LIMIT 1" },
        { deadline: Date.now() + 50 },
        (err: grpc.ServiceError | null) => resolve(err),
      );
    });
    expect((await expired)?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await cancelledReaches(3);
  });

  it("streams a response per result batch through StreamSqlQuery, and failures in the header", async () => {
    const { server, client } = await startServer();
    await fillBigTable(server, client, 20_000);
    const collect = (request: storage.SqlQueryRequest) =>
      new Promise<storage.SqlQueryResponse__Output[]>((resolve, reject) => {
        const responses: storage.SqlQueryResponse__Output[] = [];
        const stream = client.StreamSqlQuery(request);
        stream.on("data", (r: storage.SqlQueryResponse__Output) => responses.push(r));
        stream.on("error", reject);
        stream.on("end", () => resolve(responses));
      });
    const responses = await collect({ sql: "SELECT ts FROM big" });
    expect(responses.length).toBeGreaterThan(1);
    for (const r of responses) expect(r.header?.code).toBe(StatusCode.STATUS_CODE_OK);
    const rows = responses.flatMap((r) => decodeRows(r.arrow));
    expect(rows).toHaveLength(20_000);
    expect(new Set(rows.map((r) => r["ts"])).size).toBe(20_000);

    const [affected] = await collect({ sql: "DROP TABLE big" });
    expect(affected?.affectedRows).toBe("0");
    const failed = await collect({ sql: "SELECT * FROM big" });
    expect(failed).toHaveLength(1);
    expect(failed[0]?.header?.code).toBe(StatusCode.STATUS_CODE_NOT_FOUND);
  });
});

describe("HTTP POST /sql", () => {
  const post = async (http: string, body: unknown) => {
    const response = await fetch(`http://${http}/sql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json: unknown = await response.json();
    return { status: response.status, body: json };
  };

  it("runs statements, answering columns with their types and rows, or affected_rows", async () => {
    const { addresses } = await startServer();
    const http = addresses.http;
    expect(
      await post(http, {
        query: "CREATE TABLE m (h string TAG, n bigint, u uint64, ts timestamp NOT NULL, TIMESTAMP KEY(ts))",
      }),
    ).toEqual({ status: 200, body: { affected_rows: 0 } });
    expect(
      await post(http, {
        query: `INSERT INTO m (h, n, u, ts) VALUES ('a', 7, 18446744073709551615, ${T})`,
      }),
    ).toEqual({ status: 200, body: { affected_rows: 1 } });
    expect(await post(http, { query: "SELECT h, n, u, ts FROM m" })).toEqual({
      status: 200,
      body: {
        columns: [
          { name: "h", type: "string" },
          { name: "n", type: "int64" },
          { name: "u", type: "uint64" },
          { name: "ts", type: "timestamp" },
        ],
        rows: [{ h: "a", n: 7, u: "18446744073709551615", ts: T }],
      },
    });
    // A result without rows still says its columns.
    expect(await post(http, { query: "SELECT n * 2 AS twice, h FROM m WHERE n > 100" })).toEqual({
      status: 200,
      body: {
        columns: [
          { name: "twice", type: "int64" },
          { name: "h", type: "string" },
        ],
        rows: [],
      },
    });
  });

  it("answers 400 for bad SQL or a bad body, 404 for an unknown table", async () => {
    const { addresses } = await startServer();
    const bad = await post(addresses.http, { query: "SELEC 1" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(/line 1, column 1/) as unknown,
    });
    expect((await post(addresses.http, { sql: "SELECT 1" })).status).toBe(400);
    expect((await post(addresses.http, { query: 5 })).status).toBe(400);
    const missing = await post(addresses.http, { query: "DESCRIBE nope" });
    expect(missing).toEqual({
      status: 404,
      body: { code: "NOT_FOUND", message: "table public.nope does not exist (at line 1, column 10)" },
    });
  });
});
