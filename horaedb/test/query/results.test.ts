import { Type } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import type { ScanRequest } from "../../src/engine/index.js";
import {
  executeSelectStream,
  resultRowArrays,
  resultRowObjects,
  resultToArrow,
  type QueryEngine,
} from "../../src/query/index.js";
import { parseStatement, type SelectStatement } from "../../src/sql/index.js";
import { openQueryFixture, T0, type QueryFixture } from "./query-fixtures.js";

let f: QueryFixture;
beforeAll(async () => {
  f = await openQueryFixture();
});
afterAll(async () => {
  await f.close();
});

describe("Arrow results", () => {
  it("carry the result types: int64 counts, double averages, timestamps in ms, NULLs in validity", async () => {
    const result = await f.query(
      "SELECT host, time_bucket(ts, 'PT1M') AS minute, count(*) AS n, avg(usage_user) AS mean, min(requests) AS low FROM cpu WHERE host = 'b' GROUP BY host, minute ORDER BY minute",
    );
    const [batch, ...rest] = resultToArrow(result);
    expect(rest).toHaveLength(0);
    const fields = batch?.schema.fields.map((field) => [field.name, Type[field.typeId]]);
    expect(fields).toEqual([
      ["host", "Utf8"],
      ["minute", "Timestamp"],
      ["n", "Int"],
      ["mean", "Float"],
      ["low", "Int"],
    ]);
    expect(batch?.numRows).toBe(3);
    expect(batch?.getChild("minute")?.get(1)).toBe(T0 + 60_000);
    expect(batch?.getChild("n")?.get(0)).toBe(2n);
    expect(batch?.getChild("mean")?.get(1)).toBe(23);
    expect(batch?.getChild("mean")?.nullCount).toBe(0);
  });

  it("has the schema even when there are no rows", async () => {
    const batches = resultToArrow(
      await f.query("SELECT host, count(*) FROM cpu WHERE host = 'x' GROUP BY host"),
    );
    expect(batches).toHaveLength(1);
    expect(batches[0]?.numRows).toBe(0);
    expect(batches[0]?.schema.fields.map((field) => field.name)).toEqual(["host", "count(*)"]);
  });

  it("keeps NULL cells NULL", async () => {
    const [batch] = resultToArrow(await f.query("SELECT usage_user FROM cpu WHERE host = 'b' ORDER BY ts"));
    expect(batch?.numRows).toBe(6);
    expect(batch?.getChild("usage_user")?.get(2)).toBeNull();
  });
});

describe("plain rows", () => {
  it("as arrays and as objects by column name", async () => {
    const result = await f.query(
      "SELECT host, max(cores) AS cores FROM cpu GROUP BY host ORDER BY host LIMIT 2",
    );
    expect(resultRowArrays(result)).toEqual([
      ["a", 4],
      ["b", 8],
    ]);
    expect(resultRowObjects(result)).toEqual([
      { host: "a", cores: 4 },
      { host: "b", cores: 8 },
    ]);
  });
});

/** The fixture's engine, counting the batches its scans hand out. */
function countingEngine(): QueryEngine & { batches: number } {
  const engine = f.engine;
  const counting = {
    batches: 0,
    table: (database: string, name: string) => engine.table(database, name),
    scan(database: string, name: string, request: ScanRequest) {
      const scan = engine.scan(database, name, request);
      return {
        metrics: scan.metrics,
        async *[Symbol.asyncIterator](): AsyncGenerator<ColumnBatch> {
          for await (const batch of scan) {
            counting.batches++;
            yield batch;
          }
        },
      };
    },
  };
  return counting;
}

describe("streaming", () => {
  const select = (sql: string) => parseStatement(sql) as SelectStatement;

  it("yields batches as the scan produces them, with the columns known up front", async () => {
    const engine = countingEngine();
    const stream = executeSelectStream(engine, "public", select("SELECT host, ts FROM cpu"), {
      batchSize: 4,
    });
    expect(stream.columns).toEqual([
      { name: "host", type: "string", tag: true },
      { name: "ts", type: "timestamp" },
    ]);
    const sizes: number[] = [];
    for await (const batch of stream) sizes.push(batch.numRows);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(18);
    expect(sizes.length).toBeGreaterThan(1);
  });

  it("stops reading when the consumer stops", async () => {
    const engine = countingEngine();
    const stream = executeSelectStream(engine, "public", select("SELECT host, ts FROM cpu"), {
      batchSize: 2,
    });
    for await (const batch of stream) {
      expect(batch.numRows).toBeGreaterThan(0);
      break;
    }
    expect(engine.batches).toBe(1);
  });

  it("throws planning errors before the first batch is asked for", () => {
    expect(() => executeSelectStream(f.engine, "public", select("SELECT nope FROM cpu"))).toThrow(
      'column "nope" does not exist',
    );
  });

  it("can be iterated only once", async () => {
    const stream = executeSelectStream(f.engine, "public", select("SELECT 1"));
    for await (const batch of stream) expect(batch.numRows).toBe(1);
    expect(() => stream[Symbol.asyncIterator]()).toThrow("iterated only once");
  });
});
