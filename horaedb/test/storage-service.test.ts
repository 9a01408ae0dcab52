import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { createLogger, type BoundAddresses } from "@horaedb/common";
import { loadStorageProto, type storage } from "@horaedb/proto";
import {
  Float64,
  makeVector,
  tableToIPC,
  TimestampMillisecond,
  Utf8,
  vectorFromArray,
  Table as ArrowTable,
} from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cellAt } from "../src/batch/column.js";
import { HoraeDBServer, resolveHoraeDBConfig, type HoraeDBConfigInput } from "../src/index.js";

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
  it("writes the series form, creating the table, and routes it to this instance", async () => {
    const { server, addresses, client } = await startServer();
    const before = await call(client.Route.bind(client), { tables: ["cpu"] });
    expect(before).toMatchObject({ header: { code: "STATUS_CODE_OK" }, routes: [] });
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
      expect.objectContaining({ table: "cpu", leader: { host: "127.0.0.1", port: addresses.grpcPort } }),
    ]);
  });

  it("writes the Arrow columnar form, plain and gzip-compressed", async () => {
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
    for (const table of ["m", "m2"]) {
      expect(await rowsOf(server, table, ["host", "ts", "value"])).toEqual([
        ["x", T + 5000, 1.25],
        ["y", T + 6000, 2.5],
      ]);
      expect(server.engine.table("public", table)?.schema.column("host")?.isTag).toBe(true);
    }
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
  ])("refuses %s with INVALID_ARGUMENT naming the problem", async (_name, mutate, message) => {
    const { client } = await startServer();
    const request = seriesRequest("cpu", ["a"], [T + 1000]);
    mutate(request);
    const response = await write(client, { tableRequests: [request] });
    expect(response.tableResults[0]?.header?.code).toBe("STATUS_CODE_INVALID_ARGUMENT");
    expect(response.tableResults[0]?.header?.message).toMatch(message);
  });

  it("refuses an unsupported compression and a request over the size limit", async () => {
    const { client } = await startServer({ engine: { max_request_bytes: 64 * 1024 } });
    const zstd = await write(client, {
      tableRequests: [
        {
          table: "m",
          arrow: { ipcStream: new Uint8Array(8), compression: "COMPRESSION_ZSTD", tagColumns: [] },
        },
      ],
    });
    expect(zstd.tableResults[0]?.header?.message).toMatch(/COMPRESSION_ZSTD is not supported/);
    const huge = seriesRequest(
      "cpu",
      Array.from({ length: 2000 }, (_, i) => `host_${i}`),
      [1000],
    );
    await expect(write(client, { tableRequests: [huge] })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
    });
  });

  it("sums up a StreamWrite and keeps every acknowledged row across a restart", async () => {
    const first = await startServer();
    const response = await new Promise<storage.WriteResponse__Output>((resolve, reject) => {
      const stream = first.client.StreamWrite((err, res) =>
        err !== null ? reject(err) : resolve(res as storage.WriteResponse__Output),
      );
      for (let i = 0; i < 3; i++)
        stream.write({ tableRequests: [seriesRequest("cpu", [`h${i}`], [T + 1000, T + 2000])] });
      stream.end();
    });
    expect(response).toMatchObject({ header: { code: "STATUS_CODE_OK" }, successRows: "6" });
    expect(response.tableResults).toHaveLength(3);
    await first.server.stop();
    servers.splice(servers.indexOf(first.server), 1);
    const second = await startServer();
    expect(await rowsOf(second.server, "cpu", ["host"])).toHaveLength(6);
  });
});
