import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HoraeDBServers, scanRows, type RunningHoraeDB } from "./fixtures/horaedb-server.js";

const run = promisify(execFile);
// The examples are compiled by `tsc -b client`; the test runs the built files, as a user would.
const examplesDir = fileURLToPath(new URL("../dist/examples/", import.meta.url));

let servers: HoraeDBServers;
let horaedb: RunningHoraeDB;

beforeAll(async () => {
  servers = new HoraeDBServers();
  horaedb = await servers.start();
});
afterAll(() => servers.stopAll());

async function runExample(name: string): Promise<unknown> {
  const script = `${examplesDir}${name}.js`;
  if (!existsSync(script)) throw new Error(`${script} is missing: build first (npx tsc -b client)`);
  const { stdout } = await run(process.execPath, [script], {
    env: { ...process.env, HORAEDB_ENDPOINT: horaedb.endpoint },
    timeout: 30_000,
  });
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1] ?? "null");
}

describe("the examples, run as programs against a server on HORAEDB_ENDPOINT", () => {
  it("points.js writes two points", async () => {
    expect(await runExample("points")).toEqual({ rows: 2, tables: [{ table: "example_cpu", rows: 2 }] });
    expect(await scanRows(horaedb.server, "example_cpu", ["host", "usage"])).toHaveLength(2);
  });

  it("arrow-batch.js writes an Arrow table", async () => {
    expect(await runExample("arrow-batch")).toEqual({
      rows: 1000,
      tables: [{ table: "example_arrow", rows: 1000 }],
    });
    expect(await scanRows(horaedb.server, "example_arrow", ["host", "ts", "temperature"])).toHaveLength(1000);
  });

  it("batching-writer.js writes 20,000 points in batches", async () => {
    expect(await runExample("batching-writer")).toEqual({
      pointsAdded: 20_000,
      pointsWritten: 20_000,
      pointsFailed: 0,
      batchesSent: 4,
    });
    expect(await scanRows(horaedb.server, "example_batched", ["device", "sequence"])).toHaveLength(20_000);
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
