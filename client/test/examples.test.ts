import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerProcess } from "@horaedb/common/testing";
import { HoraeDBClient } from "../src/index.js";

const run = promisify(execFile);
// The examples are compiled by `tsc -b client`; the test runs the built files, as a user would.
const examplesDir = fileURLToPath(new URL("../dist/examples/", import.meta.url));
// The server executable `npm start` runs, on defaults but for its ports and data directory.
const mainScript = fileURLToPath(new URL("../../horaedb/dist/src/main.js", import.meta.url));

let dataDir: string;
let server: ServerProcess;
let endpoint: string;
let client: HoraeDBClient;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "horaedb-examples-"));
  server = new ServerProcess(mainScript, ["--grpc-port", "0", "--http-port", "0", "--data-dir", dataDir]);
  const listening = await server.waitForLine((line) => line.msg === "listening", 20_000);
  endpoint = String(listening.grpc);
  client = new HoraeDBClient({ endpoints: [endpoint] });
});
afterAll(async () => {
  await client?.close();
  server?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

async function runExample(name: string): Promise<unknown> {
  const script = `${examplesDir}${name}.js`;
  if (!existsSync(script)) throw new Error(`${script} is missing: build first (npx tsc -b client)`);
  const { stdout } = await run(process.execPath, [script], {
    env: { ...process.env, HORAEDB_ENDPOINT: endpoint },
    timeout: 30_000,
  });
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1] ?? "null");
}

/** Rows of a table, counted by the server. */
async function countRows(table: string): Promise<number> {
  const [row] = await client.sqlRows(`SELECT count(*) AS n FROM ${table}`, { tables: [table] });
  return Number(row?.n);
}

describe("the examples, run as programs against the server executable on HORAEDB_ENDPOINT", () => {
  it("points.js writes two points", async () => {
    expect(await runExample("points")).toEqual({ rows: 2, tables: [{ table: "example_cpu", rows: 2 }] });
    expect(await countRows("example_cpu")).toBe(2);
  });

  it("arrow-batch.js writes an Arrow table", async () => {
    expect(await runExample("arrow-batch")).toEqual({
      rows: 1000,
      tables: [{ table: "example_arrow", rows: 1000 }],
    });
    expect(await countRows("example_arrow")).toBe(1000);
  });

  it("batching-writer.js writes 20,000 points in batches", async () => {
    expect(await runExample("batching-writer")).toEqual({
      pointsAdded: 20_000,
      pointsWritten: 20_000,
      pointsFailed: 0,
      batchesSent: 4,
    });
    expect(await countRows("example_batched")).toBe(20_000);
  });

  it("error-handling.js reports each failure with its type", async () => {
    const outcomes = (await runExample("error-handling")) as Record<string, string>;
    expect(outcomes.example_errors).toMatch(/^STATUS_CODE_INVALID_ARGUMENT: .*column "usage" is double/);
    expect(outcomes.written).toBe("example_errors_ok=1");
    expect(outcomes.argument).toMatch(/is not an int32/);
    expect(JSON.parse(outcomes.rows ?? "null")).toEqual([{ host: "a", usage: 0.5 }]);
    expect(outcomes.sql).toMatch(
      /^STATUS_CODE_INVALID_ARGUMENT \(retryable: false\): .*"hots".*\(at line 1, column 8\)$/,
    );
  });
});
