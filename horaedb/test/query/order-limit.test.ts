import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mulberryRandom } from "./random.js";
import type { Column } from "../../src/batch/column.js";
import { DataType } from "../../src/table/data-type.js";
import { TableSchema } from "../../src/table/schema.js";
import { openQueryFixture, T0, type QueryFixture } from "./query-fixtures.js";

let f: QueryFixture;
const ROWS = 20_000;

/** `numbers`: 20,000 rows of random values with ties and NULLs, written in four batches. */
async function writeNumbers(fixture: QueryFixture): Promise<void> {
  const schema = TableSchema.create({
    timestampColumn: "ts",
    columns: [
      { name: "k", type: DataType.String, isTag: true },
      { name: "ts", type: DataType.Timestamp },
      { name: "x", type: DataType.Double },
      { name: "n", type: DataType.Int64 },
      { name: "s", type: DataType.String },
    ],
  });
  await fixture.engine.createTable("public", "numbers", schema, { enable_ttl: "false" });
  const random = mulberryRandom(7);
  for (let part = 0; part < 4; part++) {
    const count = ROWS / 4;
    const x = new Float64Array(count);
    const xValid = new Uint8Array(count);
    const n = new BigInt64Array(count);
    const s: string[] = [];
    for (let i = 0; i < count; i++) {
      x[i] = Math.floor(random() * 500) / 4;
      xValid[i] = random() < 0.05 ? 0 : 1;
      n[i] = BigInt(Math.floor(random() * 100)) - 50n;
      s.push(`s${Math.floor(random() * 1000)}`);
    }
    const columns: Column[] = [
      { type: DataType.String, values: Array.from({ length: count }, (_, i) => `k${i % 7}`), validity: null },
      {
        type: DataType.Timestamp,
        values: Float64Array.from({ length: count }, (_, i) => T0 + part * count + i),
        validity: null,
      },
      { type: DataType.Double, values: x, validity: xValid },
      { type: DataType.Int64, values: n, validity: null },
      { type: DataType.String, values: s, validity: null },
    ];
    await fixture.engine.write("public", "numbers", {
      batch: { names: ["k", "ts", "x", "n", "s"], columns, numRows: count },
      tagNames: new Set(["k"]),
      timestampColumn: "ts",
    });
    if (part < 3) await fixture.engine.flush("public", "numbers");
  }
}

beforeAll(async () => {
  f = await openQueryFixture();
  await writeNumbers(f);
});
afterAll(async () => {
  await f.close();
});

describe("ORDER BY", () => {
  it("orders by several keys, each with its direction and NULL placement", async () => {
    const rows = await f.rows("SELECT x, n, ts FROM numbers ORDER BY x DESC NULLS LAST, n, ts DESC");
    expect(rows).toHaveLength(ROWS);
    for (let i = 1; i < rows.length; i++) {
      const [px, pn, pts] = rows[i - 1] as [number | null, bigint, number];
      const [x, n, ts] = rows[i] as [number | null, bigint, number];
      if (px === null) {
        expect(x).toBeNull();
        continue;
      }
      if (x === null || x < px) continue;
      expect(x).toBe(px);
      if (n > pn) continue;
      expect(n).toBe(pn);
      expect(ts).toBeLessThan(pts);
    }
  });

  it("puts NULLs last ascending and first descending by default (as PostgreSQL)", async () => {
    const ascending = await f.rows("SELECT x FROM numbers ORDER BY x");
    const descending = await f.rows("SELECT x FROM numbers ORDER BY x DESC");
    expect(ascending.at(-1)?.[0]).toBeNull();
    expect(ascending[0]?.[0]).not.toBeNull();
    expect(descending[0]?.[0]).toBeNull();
    expect(descending.at(-1)?.[0]).not.toBeNull();
  });

  it("keeps input order for equal keys (a stable sort)", async () => {
    const sorted = await f.rows("SELECT k, ts FROM numbers ORDER BY k");
    const scanned = await f.rows("SELECT k, ts FROM numbers");
    const expected = [...scanned].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(sorted).toEqual(expected);
  });
});

describe("top-N (ORDER BY ... LIMIT)", () => {
  const orders = ["x", "x DESC", "x NULLS FIRST", "n DESC, s", "s, x DESC NULLS LAST", "k, n"];
  const limits: [number, number][] = [
    [1, 0],
    [10, 0],
    [25, 40],
    [5000, 0],
    [30_000, 0],
    [3, 19_999],
  ];

  it.each(orders.flatMap((o) => limits.map(([l, off]) => [o, l, off] as const)))(
    "ORDER BY %s LIMIT %i OFFSET %i equals the full sort cut to the same rows",
    async (order, limit, offset) => {
      const full = await f.rows(`SELECT ts, x, n, s, k FROM numbers ORDER BY ${order}`);
      const top = await f.rows(
        `SELECT ts, x, n, s, k FROM numbers ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`,
      );
      expect(top).toEqual(full.slice(offset, offset + limit));
    },
  );

  it.each([1, 100, 5000])(
    "over many small batches (the heap compacting what it holds), LIMIT %i equals the full sort",
    async (limit) => {
      const options = { batchSize: 500 };
      const full = await f.rows("SELECT ts, x, s FROM numbers ORDER BY s DESC, x", options);
      const top = await f.rows(`SELECT ts, x, s FROM numbers ORDER BY s DESC, x LIMIT ${limit}`, options);
      expect(top).toEqual(full.slice(0, limit));
    },
  );

  it("runs as a bounded heap: a memory limit too small for the full sort is enough for it", async () => {
    const limit = { memoryLimitBytes: 400_000 };
    await expect(f.rows("SELECT ts, x, s FROM numbers ORDER BY x DESC", limit)).rejects.toThrow(
      "query exceeded its memory limit of 400000 bytes",
    );
    const top = await f.rows("SELECT ts, x, s FROM numbers ORDER BY x DESC NULLS LAST LIMIT 10", limit);
    expect(top).toHaveLength(10);
    const explained = await f.explainLines("EXPLAIN SELECT ts FROM numbers ORDER BY x DESC LIMIT 10");
    expect(explained.some((line) => line.includes("TopN: fetch=10 x DESC NULLS FIRST"))).toBe(true);
  });
});

describe("ORDER BY the timestamp with LIMIT (read in time windows)", () => {
  // Without the LIMIT the query is a full sort of every row; with it, windows of time from the
  // newest (oldest) row on. `ticks`: ties on every timestamp, two SSTs and a memtable holding an
  // overwrite; `cpu`: SSTs and a memtable overlapping in time.
  const queries = [
    "SELECT host, ts, v FROM ticks ORDER BY ts DESC",
    "SELECT host, ts, v FROM ticks ORDER BY ts",
    "SELECT v, host FROM ticks WHERE host = 'c' ORDER BY ts DESC",
    "SELECT host, ts, v FROM ticks WHERE host IN ('a', 'c') AND ts < TIMESTAMP '2024-01-01 01:50:00.001' ORDER BY ts DESC",
    "SELECT host, ts AS t, v FROM ticks WHERE ts >= TIMESTAMP '2024-01-01 00:29:30' ORDER BY t, host DESC",
    "SELECT host, ts, v FROM ticks WHERE v < 3 OR v > 715 ORDER BY ts DESC",
    "SELECT host, ts, usage_user, note FROM cpu ORDER BY ts DESC",
    "SELECT host, ts, usage_user, note FROM cpu WHERE host != 'b' ORDER BY ts",
  ];
  const limits: [number, number][] = [
    [1, 0],
    [3, 0],
    [5, 2],
    [40, 61],
    [500, 0],
    [10, 1700],
  ];

  it.each(queries.flatMap((q) => limits.map(([l, off]) => [q, l, off] as const)))(
    "%s LIMIT %i OFFSET %i equals the full sort cut to the same rows",
    async (sql, limit, offset) => {
      const full = await f.rows(sql);
      const top = await f.rows(`${sql} LIMIT ${limit} OFFSET ${offset}`);
      expect(top).toEqual(full.slice(offset, offset + limit));
    },
  );

  it("reads the newest rows first and stops early", async () => {
    const lines = await f.explainLines(
      "EXPLAIN ANALYZE SELECT host, ts, v FROM ticks ORDER BY ts DESC LIMIT 3",
    );
    expect(lines.some((l) => l.trim().startsWith("TimeWindow: ts DESC fetch=3"))).toBe(true);
    const scan = lines.find((l) => l.trim().startsWith("Scan:")) as string;
    // The table holds 1,621 rows; the window read a few of the newest.
    expect(Number(/\[rows=(\d+)/.exec(scan)?.[1])).toBeLessThan(100);
    expect(lines.some((l) => l.includes("sstsPruned=2"))).toBe(true);
  });
});

describe("LIMIT and OFFSET", () => {
  it("stop reading the table once they have their rows", async () => {
    const lines = await f.explainLines("EXPLAIN ANALYZE SELECT ts FROM numbers LIMIT 3 OFFSET 2", {
      batchSize: 1000,
    });
    const scan = lines.find((l) => l.trim().startsWith("Scan:")) as string;
    expect(lines.some((l) => l.includes("Limit: offset=2 limit=3 [rows=3"))).toBe(true);
    // One batch of 1000 rows was enough; the 20,000 rows were not all read.
    expect(Number(/rows=(\d+)/.exec(scan)?.[1])).toBeLessThan(ROWS);
  });

  it("slice the ordered rows", async () => {
    const all = await f.rows("SELECT ts FROM numbers ORDER BY ts");
    const page = await f.rows("SELECT ts FROM numbers ORDER BY ts LIMIT 7 OFFSET 9995");
    expect(page).toEqual(all.slice(9995, 10002));
    expect(await f.rows("SELECT ts FROM numbers ORDER BY ts LIMIT 0")).toEqual([]);
  });
});
