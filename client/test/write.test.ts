import {
  Float64,
  makeVector,
  type RecordBatch,
  Table,
  TimestampMillisecond,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HoraeDBArgumentError, HoraeDBClient, HoraeDBWriteError, StatusCode } from "../src/index.js";
import { HoraeDBServers, RECENT_MS as T, scanRows } from "./fixtures/horaedb-server.js";

let servers: HoraeDBServers;
let client: HoraeDBClient | undefined;

beforeEach(() => {
  servers = new HoraeDBServers();
});
afterEach(async () => {
  await client?.close();
  client = undefined;
  await servers.stopAll();
});

const sortRows = (rows: unknown[][]) =>
  rows.sort((a, b) => JSON.stringify(a, big).localeCompare(JSON.stringify(b, big)));
const big = (_k: string, v: unknown) => (typeof v === "bigint" ? `${v}n` : v);

function arrowTable(hosts: string[], timestamps: number[], values: number[]): Table {
  return new Table({
    host: vectorFromArray(hosts, new Utf8()),
    ts: makeVector({
      type: new TimestampMillisecond(),
      data: BigInt64Array.from(timestamps.map(BigInt)),
      // makeVector's typings do not cover timestamp data; the runtime accepts it.
    } as never),
    value: vectorFromArray(values, new Float64()),
  });
}

describe("HoraeDBClient writes to a real server", () => {
  it("writes points of every field type to several tables and reports rows per table", async () => {
    const { server, endpoint } = await servers.start();
    client = new HoraeDBClient({ endpoints: [endpoint] });
    const bytes = Uint8Array.of(1, 2, 3);
    const result = await client.write([
      client
        .point("cpu")
        .tag("host", "a")
        .tag("dc", "x")
        .field("usage", 0.5)
        .fieldFloat("f32", 1.5)
        .fieldInt64("i64", 9007199254740993n)
        .fieldInt32("i32", -7)
        .fieldUint64("u64", "18446744073709551615")
        .fieldBool("ok", true)
        .fieldString("note", "hello")
        .fieldBytes("raw", bytes)
        .timestamp(T + 1_000),
      client
        .point("cpu")
        .tag("host", "a")
        .tag("dc", "x")
        .field("usage", 0.75)
        .timestamp(new Date(T + 2_000)),
      client
        .point("cpu")
        .tag("host", "b")
        .tag("dc", "x")
        .field("usage", 0.25)
        .timestamp(BigInt(T + 1_000)),
      client
        .point("mem")
        .tag("host", "a")
        .fieldInt64("free", 1024)
        .timestamp(T + 1_000),
    ]);
    expect(result).toEqual({
      rows: 4,
      tables: [
        { table: "cpu", rows: 3 },
        { table: "mem", rows: 1 },
      ],
    });
    const cpu = sortRows(
      await scanRows(server, "cpu", [
        "host",
        "dc",
        "timestamp",
        "usage",
        "f32",
        "i64",
        "i32",
        "u64",
        "ok",
        "note",
        "raw",
      ]),
    );
    expect(cpu).toEqual([
      ["a", "x", T + 1_000, 0.5, 1.5, 9007199254740993n, -7, 18446744073709551615n, true, "hello", bytes],
      ["a", "x", T + 2_000, 0.75, null, null, null, null, null, null, null],
      ["b", "x", T + 1_000, 0.25, null, null, null, null, null, null, null],
    ]);
    expect(await scanRows(server, "mem", ["host", "timestamp", "free"])).toEqual([["a", T + 1_000, 1024n]]);
    expect(server.engine.table("public", "cpu")?.schema.column("host")?.isTag).toBe(true);
  });

  it("writes an Arrow table and a record batch, plain, zstd- and gzip-compressed", async () => {
    const { server, endpoint } = await servers.start();
    // compressAboveBytes 0 compresses every stream (zstd by default); the last client never compresses.
    client = new HoraeDBClient({ endpoints: [endpoint], compressAboveBytes: 0 });
    const gzip = new HoraeDBClient({ endpoints: [endpoint], compression: "gzip", compressAboveBytes: 0 });
    const plain = new HoraeDBClient({ endpoints: [endpoint], compressAboveBytes: Infinity });
    try {
      const table = arrowTable(["x", "y"], [T + 5_000, T + 6_000], [1.25, 2.5]);
      expect(await client.writeArrow("m_zstd", table, { tags: ["host"], timestamp: "ts" })).toEqual({
        rows: 2,
        tables: [{ table: "m_zstd", rows: 2 }],
      });
      expect(await gzip.writeArrow("m_gzip", table, { tags: ["host"], timestamp: "ts" })).toMatchObject({
        rows: 2,
      });
      const batch = table.batches[0] as RecordBatch;
      expect(await plain.writeArrow("m_plain", batch, { tags: ["host"], timestamp: "ts" })).toMatchObject({
        rows: 2,
      });
    } finally {
      await plain.close();
      await gzip.close();
    }
    for (const name of ["m_zstd", "m_gzip", "m_plain"]) {
      expect(sortRows(await scanRows(server, name, ["host", "ts", "value"]))).toEqual([
        ["x", T + 5_000, 1.25],
        ["y", T + 6_000, 2.5],
      ]);
      expect(server.engine.table("public", name)?.schema.column("host")?.isTag).toBe(true);
    }
  });

  it("splits an Arrow table larger than maxRequestBytes into several table requests", async () => {
    const { server, endpoint } = await servers.start();
    client = new HoraeDBClient({ endpoints: [endpoint], maxRequestBytes: 4_096 });
    const n = 2_000;
    const table = new Table({
      host: vectorFromArray(
        Array.from({ length: n }, (_, i) => `h${i % 7}`),
        new Utf8(),
      ),
      timestamp: makeVector(BigInt64Array.from({ length: n }, (_, i) => BigInt(T + i))),
      a: makeVector(Float32Array.from({ length: n }, (_, i) => i)),
      b: makeVector(Int32Array.from({ length: n }, (_, i) => -i)),
    });
    expect(await client.writeArrow("big", table, { tags: ["host"] })).toEqual({
      rows: n,
      tables: [{ table: "big", rows: n }],
    });
    const rows = await scanRows(server, "big", ["timestamp", "a", "b"]);
    expect(rows).toHaveLength(n);
    expect(new Set(rows.map((r) => r[0])).size).toBe(n);
    expect(rows.every(([ts, a, b]) => a === (ts as number) - T && b === T - (ts as number))).toBe(true);
  });

  it("rejects a write the server refuses with HoraeDBWriteError naming the table, status and message", async () => {
    const { server, endpoint } = await servers.start();
    client = new HoraeDBClient({ endpoints: [endpoint] });
    await client.write(client.point("cpu").tag("host", "a").field("usage", 0.5).timestamp(T));
    const error = await client
      .write([
        client
          .point("cpu")
          .tag("host", "a")
          .fieldString("usage", "oops")
          .timestamp(T + 1),
        client
          .point("mem")
          .tag("host", "a")
          .field("free", 1)
          .timestamp(T + 1),
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HoraeDBWriteError);
    const writeError = error as HoraeDBWriteError;
    expect(writeError.code).toBe(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
    expect(writeError.retryable).toBe(false);
    expect(writeError.failures).toEqual([
      expect.objectContaining({
        table: "cpu",
        code: StatusCode.STATUS_CODE_INVALID_ARGUMENT,
        rows: 1,
        attempts: 1,
        message: expect.stringMatching(/column "usage" is double, the write has string/) as unknown,
      }),
    ]);
    expect(writeError.written).toEqual([{ table: "mem", rows: 1 }]);
    expect(writeError.message).toMatch(/^1 row\(s\) of 1 table\(s\) not written; cpu: /);
    expect(await scanRows(server, "cpu", ["usage"])).toEqual([[0.5]]);
  });

  it("refuses bad arguments before sending anything", async () => {
    const { endpoint } = await servers.start();
    client = new HoraeDBClient({ endpoints: [endpoint] });
    const table = arrowTable(["x"], [T], [1]);
    await expect(client.writeArrow("m", table, { tags: ["missing"], timestamp: "ts" })).rejects.toThrow(
      /tag column "missing" is not in the Arrow table/,
    );
    await expect(client.writeArrow("m", table, { tags: ["value"], timestamp: "ts" })).rejects.toThrow(
      /tag column "value" is Float64; tags must be Utf8/,
    );
    await expect(
      client.writeArrow("m", table, { tags: ["host"], timestamp: "value" }),
    ).rejects.toBeInstanceOf(HoraeDBArgumentError);
    await expect(client.write([{} as never])).rejects.toBeInstanceOf(HoraeDBArgumentError);
    expect(client.stats.routeCalls).toBe(0);
  });
});
