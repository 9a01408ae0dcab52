import { randomBytes } from "node:crypto";

import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { StatusCode, isRetryableStatus, loadStorageProto, storageServiceDefinition } from "../src/index.js";
import type { storage } from "../src/index.js";

// A real grpc-js server implementing StorageService with the generated handler types, called through
// a client built from the same loaded package: proves the generated types describe what the runtime
// loader actually encodes and decodes.

/** What the server received, per method, in arrival order. */
interface Received {
  route: storage.RouteRequest__Output[];
  write: storage.WriteRequest__Output[];
  streamWrite: storage.WriteRequest__Output[];
  sqlQuery: storage.SqlQueryRequest__Output[];
  streamSqlQuery: storage.SqlQueryRequest__Output[];
}

/** What the server answers; each test sets the parts it exercises. */
interface Replies {
  route: storage.RouteResponse;
  sqlQuery: storage.SqlQueryResponse;
  streamSqlQuery: storage.SqlQueryResponse[];
}

const OK_HEADER = { code: StatusCode.STATUS_CODE_OK, message: "", retryAfterMs: 0 } as const;

let received: Received;
let replies: Replies;
let server: grpc.Server;
let client: storage.StorageServiceClient;

/** Rows in one decoded table request, counted the way a server would for WriteResponse totals. */
function rowsOf(tableRequest: storage.WriteTableRequest__Output): number {
  if (tableRequest.rows !== "series" || !tableRequest.series) return 0;
  return tableRequest.series.entries.reduce((sum, entry) => sum + entry.fieldGroups.length, 0);
}

function writeResponseFor(requests: storage.WriteRequest__Output[]): storage.WriteResponse {
  const tableResults = requests.flatMap((request) =>
    request.tableRequests.map((tableRequest) => ({
      table: tableRequest.table,
      header: { code: StatusCode.STATUS_CODE_OK },
      rows: rowsOf(tableRequest),
    })),
  );
  return {
    header: { code: StatusCode.STATUS_CODE_OK },
    successRows: tableResults.reduce((sum, result) => sum + result.rows, 0),
    failedRows: 0,
    tableResults,
  };
}

const handlers: storage.StorageServiceHandlers = {
  Route(call, callback) {
    received.route.push(call.request);
    callback(null, replies.route);
  },
  Write(call, callback) {
    received.write.push(call.request);
    callback(null, writeResponseFor([call.request]));
  },
  StreamWrite(call, callback) {
    const requests: storage.WriteRequest__Output[] = [];
    call.on("data", (request: storage.WriteRequest__Output) => {
      requests.push(request);
      received.streamWrite.push(request);
    });
    call.on("end", () => callback(null, writeResponseFor(requests)));
  },
  SqlQuery(call, callback) {
    received.sqlQuery.push(call.request);
    callback(null, replies.sqlQuery);
  },
  StreamSqlQuery(call) {
    received.streamSqlQuery.push(call.request);
    for (const response of replies.streamSqlQuery) call.write(response);
    call.end();
  },
};

function unaryResult<T>(invoke: (callback: grpc.requestCallback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    invoke((error, value) => {
      if (error) reject(error);
      else if (value === undefined) reject(new Error("call succeeded without a response"));
      else resolve(value);
    });
  });
}

function collect<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    stream.on("data", (item: T) => items.push(item));
    stream.on("error", reject);
    stream.on("end", () => resolve(items));
  });
}

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(storageServiceDefinition(), handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
  const StorageServiceClient = loadStorageProto().horaedb.storage.v1.StorageService;
  client = new StorageServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  if (server === undefined) return;
  await new Promise<void>((resolve) => {
    server.tryShutdown((error) => {
      if (error) server.forceShutdown();
      resolve();
    });
  });
});

beforeEach(() => {
  received = { route: [], write: [], streamWrite: [], sqlQuery: [], streamSqlQuery: [] };
  replies = { route: {}, sqlQuery: {}, streamSqlQuery: [] };
});

describe("Route", () => {
  it("round-trips endpoints, with uint64 beyond 2^53 as an exact decimal string and enums as names", async () => {
    replies.route = {
      header: { code: StatusCode.STATUS_CODE_OK },
      clusterVersion: "18446744073709551615",
      routes: [
        {
          table: "cpu",
          shardId: 3,
          leader: { host: "10.0.0.1", port: 8831 },
          followers: [
            { host: "10.0.0.2", port: 8831 },
            { host: "10.0.0.3", port: 8832 },
          ],
        },
      ],
    };

    const response = await unaryResult<storage.RouteResponse__Output>((callback) =>
      client.route({ context: { database: "metrics" }, tables: ["cpu", "absent"] }, callback),
    );

    expect(received.route).toStrictEqual([{ context: { database: "metrics" }, tables: ["cpu", "absent"] }]);
    expect(response).toStrictEqual({
      header: OK_HEADER,
      clusterVersion: "18446744073709551615",
      routes: [
        {
          table: "cpu",
          shardId: 3,
          leader: { host: "10.0.0.1", port: 8831 },
          followers: [
            { host: "10.0.0.2", port: 8831 },
            { host: "10.0.0.3", port: 8832 },
          ],
        },
      ],
    });
  });

  it("decodes a status sent as its enum number to its name, with the retry hint", async () => {
    // 4 is STATUS_CODE_ROUTE_STALE on the wire; senders may use either form.
    replies.route = { header: { code: 4, message: "shard 3 moved", retryAfterMs: 25 } };

    const response = await unaryResult<storage.RouteResponse__Output>((callback) =>
      client.Route({ tables: ["cpu"] }, callback),
    );

    expect(response.header).toStrictEqual({
      code: StatusCode.STATUS_CODE_ROUTE_STALE,
      message: "shard 3 moved",
      retryAfterMs: 25,
    });
    expect(isRetryableStatus(response.header?.code)).toBe(true);
    // Absent message fields decode as null and absent scalars as their defaults.
    expect(response.clusterVersion).toBe("0");
    expect(response.routes).toStrictEqual([]);
    expect(received.route[0]?.context).toBeNull();
  });
});

describe("Write", () => {
  const ipcStream = randomBytes(4096);

  const request: storage.WriteRequest = {
    context: { database: "metrics" },
    tableRequests: [
      {
        table: "cpu",
        series: {
          tagNames: ["host", "region"],
          fieldNames: ["f64", "f32", "i64", "i32", "u64", "flag", "text", "blob", "seen_at", "missing"],
          entries: [
            {
              tags: [
                { nameIndex: 0, value: { stringValue: "h1" } },
                { nameIndex: 1, value: { stringValue: "eu-west" } },
              ],
              fieldGroups: [
                {
                  timestamp: "1700000000000",
                  fields: [
                    { nameIndex: 0, value: { float64Value: 0.1 } },
                    { nameIndex: 1, value: { float32Value: 1.5 } },
                    { nameIndex: 2, value: { int64Value: "-9223372036854775808" } },
                    { nameIndex: 3, value: { int32Value: 0 } },
                    { nameIndex: 4, value: { uint64Value: "18446744073709551615" } },
                    { nameIndex: 5, value: { boolValue: false } },
                    { nameIndex: 6, value: { stringValue: "" } },
                    { nameIndex: 7, value: { varbinaryValue: Buffer.from([0, 1, 254, 255]) } },
                    { nameIndex: 8, value: { timestampValue: "1699999999999" } },
                    { nameIndex: 9, value: {} },
                  ],
                },
                { timestamp: 1700000001000, fields: [{ nameIndex: 0, value: { float64Value: -2.5 } }] },
              ],
            },
          ],
        },
      },
      {
        table: "bulk",
        arrow: {
          ipcStream,
          compression: "COMPRESSION_ZSTD",
          tagColumns: ["host"],
          timestampColumn: "ts",
        },
      },
    ],
  };

  // The same request as the server must decode it: defaults filled in, 64-bit integers as strings,
  // oneof members set even when they hold a default value, and each oneof named.
  const expectedDecoded: storage.WriteRequest__Output = {
    context: { database: "metrics" },
    tableRequests: [
      {
        table: "cpu",
        rows: "series",
        series: {
          tagNames: ["host", "region"],
          fieldNames: ["f64", "f32", "i64", "i32", "u64", "flag", "text", "blob", "seen_at", "missing"],
          entries: [
            {
              tags: [
                { nameIndex: 0, value: { stringValue: "h1", kind: "stringValue" } },
                { nameIndex: 1, value: { stringValue: "eu-west", kind: "stringValue" } },
              ],
              fieldGroups: [
                {
                  // FieldGroup.timestamp is `optional`: its presence shows as this synthetic oneof.
                  _timestamp: "timestamp",
                  timestamp: "1700000000000",
                  fields: [
                    { nameIndex: 0, value: { float64Value: 0.1, kind: "float64Value" } },
                    { nameIndex: 1, value: { float32Value: 1.5, kind: "float32Value" } },
                    { nameIndex: 2, value: { int64Value: "-9223372036854775808", kind: "int64Value" } },
                    { nameIndex: 3, value: { int32Value: 0, kind: "int32Value" } },
                    { nameIndex: 4, value: { uint64Value: "18446744073709551615", kind: "uint64Value" } },
                    { nameIndex: 5, value: { boolValue: false, kind: "boolValue" } },
                    { nameIndex: 6, value: { stringValue: "", kind: "stringValue" } },
                    {
                      nameIndex: 7,
                      value: { varbinaryValue: Buffer.from([0, 1, 254, 255]), kind: "varbinaryValue" },
                    },
                    { nameIndex: 8, value: { timestampValue: "1699999999999", kind: "timestampValue" } },
                    // A Value with no kind set: null, distinct from an absent value (decoded as null).
                    { nameIndex: 9, value: {} },
                  ],
                },
                {
                  _timestamp: "timestamp",
                  timestamp: "1700000001000",
                  fields: [{ nameIndex: 0, value: { float64Value: -2.5, kind: "float64Value" } }],
                },
              ],
            },
          ],
        },
      },
      {
        table: "bulk",
        rows: "arrow",
        arrow: {
          ipcStream,
          compression: "COMPRESSION_ZSTD",
          tagColumns: ["host"],
          timestampColumn: "ts",
        },
      },
    ],
  };

  it("delivers series rows of every value type and an Arrow payload exactly as sent", async () => {
    const response = await unaryResult<storage.WriteResponse__Output>((callback) =>
      client.write(request, callback),
    );

    expect(received.write).toStrictEqual([expectedDecoded]);
    expect(received.write[0]?.tableRequests[1]?.arrow?.ipcStream.equals(ipcStream)).toBe(true);
    expect(response).toStrictEqual({
      header: OK_HEADER,
      successRows: "2",
      failedRows: "0",
      tableResults: [
        { table: "cpu", header: OK_HEADER, rows: "2" },
        { table: "bulk", header: OK_HEADER, rows: "0" },
      ],
    });
  });

  it("StreamWrite delivers every request in order and answers one total for the stream", async () => {
    const second: storage.WriteRequest = {
      tableRequests: [
        { table: "mem", series: { entries: [{ fieldGroups: [{ timestamp: 1 }, { timestamp: 2 }] }] } },
      ],
    };

    const response = await unaryResult<storage.WriteResponse__Output>((callback) => {
      const call = client.streamWrite(callback);
      call.write(request);
      call.write(second);
      call.end();
    });

    expect(received.streamWrite).toHaveLength(2);
    expect(received.streamWrite[0]).toStrictEqual(expectedDecoded);
    expect(received.streamWrite[1]?.tableRequests.map((tableRequest) => tableRequest.table)).toStrictEqual([
      "mem",
    ]);
    expect(response.successRows).toBe("4");
    expect(response.tableResults.map((result) => [result.table, result.rows])).toStrictEqual([
      ["cpu", "2"],
      ["bulk", "0"],
      ["mem", "2"],
    ]);
  });
});

describe("SqlQuery", () => {
  it("answers affected rows through the output oneof as a uint64 string", async () => {
    replies.sqlQuery = { header: { code: StatusCode.STATUS_CODE_OK }, affectedRows: "9007199254740993" };

    const response = await unaryResult<storage.SqlQueryResponse__Output>((callback) =>
      client.sqlQuery({ sql: "INSERT INTO cpu (host, ts, v) VALUES ('h1', 1, 2)" }, callback),
    );

    expect(response).toStrictEqual({
      header: OK_HEADER,
      output: "affectedRows",
      affectedRows: "9007199254740993",
    });
    expect(received.sqlQuery[0]?.sql).toBe("INSERT INTO cpu (host, ts, v) VALUES ('h1', 1, 2)");
  });
});

describe("StreamSqlQuery", () => {
  it("streams Arrow payloads in order and ends with the failure header when the query fails part way", async () => {
    const batches = [randomBytes(100), randomBytes(0), randomBytes(1000)];
    replies.streamSqlQuery = [
      { header: { code: StatusCode.STATUS_CODE_OK }, arrow: { recordBatches: [batches[0]!, batches[1]!] } },
      {
        header: { code: StatusCode.STATUS_CODE_OK },
        arrow: { recordBatches: [batches[2]!], compression: "COMPRESSION_ZSTD" },
      },
      { header: { code: StatusCode.STATUS_CODE_INTERNAL, message: "scan of sst 42 failed" } },
    ];

    const responses = await collect(
      client.streamSqlQuery({
        context: { database: "metrics" },
        tables: ["cpu"],
        sql: "SELECT * FROM cpu",
        timeoutMs: 1500,
        acceptCompression: "COMPRESSION_ZSTD",
      }),
    );

    expect(received.streamSqlQuery).toStrictEqual([
      {
        context: { database: "metrics" },
        tables: ["cpu"],
        sql: "SELECT * FROM cpu",
        timeoutMs: 1500,
        acceptCompression: "COMPRESSION_ZSTD",
      },
    ]);
    expect(responses).toStrictEqual([
      {
        header: OK_HEADER,
        output: "arrow",
        arrow: { recordBatches: [batches[0], batches[1]], compression: "COMPRESSION_NONE" },
      },
      {
        header: OK_HEADER,
        output: "arrow",
        arrow: { recordBatches: [batches[2]], compression: "COMPRESSION_ZSTD" },
      },
      {
        header: { code: StatusCode.STATUS_CODE_INTERNAL, message: "scan of sst 42 failed", retryAfterMs: 0 },
      },
    ]);
  });
});
