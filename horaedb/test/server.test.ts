import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createLogger, type BoundAddresses } from "@horaedb/common";
import { loadStorageProto, StatusCode, type storage } from "@horaedb/proto";
import { tableFromIPC } from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { advertisedHost } from "../src/server.js";
import {
  HoraeDBServer,
  resolveHoraeDBConfig,
  UnsupportedModeError,
  type HoraeDBConfigInput,
} from "../src/index.js";

let dataRoot: string;
const servers: HoraeDBServer[] = [];
const clients: grpc.Client[] = [];

beforeEach(() => {
  dataRoot = mkdtempSync(join(tmpdir(), "horaedb-server-"));
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.stop()));
  rmSync(dataRoot, { recursive: true, force: true });
});

function newServer(input: HoraeDBConfigInput = {}) {
  const config = resolveHoraeDBConfig({
    ...input,
    server: { grpc_port: 0, http_port: 0, ...input.server },
    data_dir: input.data_dir ?? join(dataRoot, "data"),
  });
  const server = new HoraeDBServer(config, { logger: createLogger({ name: "horaedb", level: "silent" }) });
  servers.push(server);
  return server;
}

function storageClient(addresses: BoundAddresses) {
  const { StorageService } = loadStorageProto().horaedb.storage.v1;
  const client = new StorageService(addresses.grpc, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

describe("advertisedHost", () => {
  const hostName = () => "db1";
  it("is the configured host, else the bind address, else the host name when bound to every interface", () => {
    expect(advertisedHost("0.0.0.0", "db.example", hostName)).toBe("db.example");
    expect(advertisedHost("127.0.0.1", "", hostName)).toBe("127.0.0.1");
    expect(advertisedHost("0.0.0.0", "", hostName)).toBe("db1");
    expect(advertisedHost("::", "", hostName)).toBe("db1");
  });
});

describe("HoraeDBServer", () => {
  it("listens on ports chosen at run time and answers GET /health with 200", async () => {
    const server = newServer();
    const addresses = await server.start();
    expect(addresses.grpcPort).toBeGreaterThan(0);
    expect(addresses.httpPort).toBeGreaterThan(0);
    const response = await fetch(`http://${addresses.http}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", server: "horaedb", mode: "standalone" });
  });

  it("creates the data directory at start", async () => {
    const dataDir = join(dataRoot, "nested", "data");
    const server = newServer({ data_dir: dataDir });
    expect(existsSync(dataDir)).toBe(false);
    await server.start();
    expect(existsSync(dataDir)).toBe(true);
  });

  it("answers the unary SqlQuery method from a real client with an Arrow result", async () => {
    const server = newServer();
    const client = storageClient(await server.start());
    const response = await new Promise<storage.SqlQueryResponse__Output>((resolve, reject) => {
      client.SqlQuery({ sql: "SELECT 1 + 1 AS two" }, (err, res) =>
        err !== null || res === undefined ? reject(err ?? new Error("no response")) : resolve(res),
      );
    });
    expect(response.header).toMatchObject({ code: StatusCode.STATUS_CODE_OK });
    const [stream] = response.arrow?.recordBatches ?? [];
    expect(
      tableFromIPC(stream as Uint8Array)
        .toArray()
        .map((row: { toJSON(): Record<string, unknown> }) => row.toJSON()),
    ).toEqual([{ two: 2n }]);
  });

  it("answers the streaming SqlQuery method with a response per result batch", async () => {
    const server = newServer();
    const client = storageClient(await server.start());
    const responses: storage.SqlQueryResponse__Output[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.StreamSqlQuery({ sql: "SELECT 'x' AS s" });
      call.on("data", (response: storage.SqlQueryResponse__Output) => responses.push(response));
      call.on("error", () => {});
      call.on("status", resolve);
    });
    expect(status.code).toBe(grpc.status.OK);
    expect(responses).toHaveLength(1);
    const [stream] = responses[0]?.arrow?.recordBatches ?? [];
    expect(
      tableFromIPC(stream as Uint8Array)
        .toArray()
        .map((row: { toJSON(): Record<string, unknown> }) => row.toJSON()),
    ).toEqual([{ s: "x" }]);
  });

  it("reports shutting_down as soon as stop() begins and stops listening when it resolves", async () => {
    const server = newServer();
    const addresses = await server.start();
    expect(server.health.state).toBe("serving");
    const stopped = server.stop();
    expect(server.health.state).toBe("shutting_down");
    await stopped;
    await expect(fetch(`http://${addresses.http}/health`)).rejects.toThrow();
    const error = await new Promise<grpc.ServiceError | null>((resolve) => {
      storageClient(addresses).Route({ tables: ["cpu"] }, { deadline: Date.now() + 2_000 }, (err) =>
        resolve(err),
      );
    });
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
  });

  it("applies query.timeout_ms to HTTP /sql statements: past it they are answered 504", async () => {
    const server = newServer({ query: { timeout_ms: 1 } });
    const addresses = await server.start();
    const sql = (query: string) =>
      fetch(`http://${addresses.http}/sql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query }),
      });
    expect(
      (await sql("CREATE TABLE big (host string TAG, v double, ts timestamp NOT NULL, TIMESTAMP KEY(ts))"))
        .status,
    ).toBe(200);
    const n = 200_000;
    const hosts = Array.from({ length: n }, (_, i) => `host-${i % 100}`);
    await server.engine.write("public", "big", {
      batch: {
        names: ["host", "v", "ts"],
        columns: [
          { type: "string", values: hosts, validity: null },
          { type: "double", values: Float64Array.from(hosts, (_, i) => i / 2), validity: null },
          {
            type: "timestamp",
            values: Float64Array.from(hosts, (_, i) => 1_700_000_000_000 + i),
            validity: null,
          },
        ],
        numRows: n,
      },
      tagNames: new Set(["host"]),
      timestampColumn: "ts",
    });
    const slow = await sql("SELECT host, count(*), avg(v) FROM big GROUP BY host ORDER BY host");
    expect(slow.status).toBe(504);
    expect(await slow.json()).toMatchObject({ message: "query exceeded its timeout of 1 ms" });
  });

  it("refuses cluster mode until it is implemented", async () => {
    const server = newServer({ mode: "cluster" });
    await expect(server.start()).rejects.toBeInstanceOf(UnsupportedModeError);
  });
});
