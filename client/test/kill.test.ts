import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ServerProcess } from "@horaedb/common/testing";
import { HoraeDBClient, type Point } from "../src/index.js";

// The built executable, as `npm start` runs it (the test command builds before testing).
const mainScript = fileURLToPath(new URL("../../horaedb/dist/src/main.js", import.meta.url));

const TABLE = "kill_acks";
const ROWS_PER_WRITE = 40;
const WRITERS = 4;
/** How long writes run before each SIGKILL, ms: right after the first answers, then later. */
const KILL_AFTER_MS = [0, 250, 700, 1_500];
/** Timestamps from a day ago (the table keeps rows of any age; the server checks their range). */
const BASE_MS = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 86_400_000;

let dataDir: string;
const servers: ServerProcess[] = [];
const clients: HoraeDBClient[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "horaedb-kill-"));
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  for (const server of servers.splice(0)) server.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

/**
 * Starts the server executable on the data directory; resolves with its gRPC endpoint and the rows
 * it replayed from its WAL as it opened.
 */
async function startServer(): Promise<{ server: ServerProcess; endpoint: string; replayedRows: number }> {
  const server = new ServerProcess(
    mainScript,
    ["--grpc-port", "0", "--http-port", "0", "--data-dir", dataDir, "--log-level", "info"],
    // Small WAL segments: segments are closed, and truncated after flushes, while writes run.
    { HORAEDB_ENGINE__WAL_SEGMENT_BYTES: "65536" },
  );
  servers.push(server);
  const listening = await server.waitForLine((line) => line.msg === "listening", 20_000);
  const replayed = await server.waitForLine((line) => line.msg === "WAL replayed");
  return { server, endpoint: String(listening.grpc), replayedRows: Number(replayed.rows) };
}

function clientOf(endpoint: string): HoraeDBClient {
  // One attempt per write: a write is acknowledged once, by its own answer, or never.
  const client = new HoraeDBClient({
    endpoints: [endpoint],
    retry: { maxAttempts: 1 },
    writeTimeoutMs: 10_000,
  });
  clients.push(client);
  return client;
}

/** The points of write `id`: ROWS_PER_WRITE rows, each carrying the id, with keys of their own. */
function pointsOf(client: HoraeDBClient, id: number): Point[] {
  return Array.from({ length: ROWS_PER_WRITE }, (_, i) =>
    client
      .point(TABLE)
      .tag("writer", `w${i % 5}`)
      .field("write_id", id)
      .timestamp(BASE_MS + id * ROWS_PER_WRITE + i),
  );
}

/** Rows per write id in the table, as a restarted server answers. */
async function rowsPerWrite(client: HoraeDBClient): Promise<Map<number, number>> {
  const rows = await client.sqlRows(`SELECT write_id, count(*) AS n FROM ${TABLE} GROUP BY write_id`, {
    tables: [TABLE],
  });
  return new Map(rows.map((row) => [Number(row.write_id), Number(row.n)]));
}

describe("kill -9 of the server while the SDK writes", () => {
  it(`loses no acknowledged row and applies no write in part, over ${KILL_AFTER_MS.length} kills`, async () => {
    const acknowledged = new Set<number>();
    let nextId = 0;
    let flushes = 0;
    let replayedRows = 0;
    for (const [trial, killAfterMs] of KILL_AFTER_MS.entries()) {
      const { server, endpoint, replayedRows: replayedNow } = await startServer();
      replayedRows += replayedNow;
      const client = clientOf(endpoint);
      if (trial === 0) {
        // APPEND keeps every row it is given, so a write applied twice would show as extra rows;
        // the smallest write buffer makes flushes (and WAL truncation) happen throughout.
        await client.execute(
          `CREATE TABLE ${TABLE} (writer string TAG, write_id double, timestamp timestamp NOT NULL, ` +
            "TIMESTAMP KEY(timestamp)) ENGINE=Analytic " +
            "WITH (update_mode='APPEND', write_buffer_size='64KB', enable_ttl='false')",
        );
      }
      let killed = false;
      const unexpected: unknown[] = [];
      let firstAnswer: () => void = () => undefined;
      const answered = new Promise<void>((resolve) => (firstAnswer = resolve));
      const writer = async (): Promise<void> => {
        while (!killed) {
          const id = nextId++;
          try {
            await client.write(pointsOf(client, id));
            acknowledged.add(id);
            firstAnswer();
          } catch (error) {
            if (!killed) unexpected.push(error);
            return;
          }
        }
      };
      const writers = Array.from({ length: WRITERS }, writer);
      // A writer that stopped on an error ends the wait too: the check below reports the error.
      await Promise.race([answered, Promise.race(writers)]);
      await new Promise((resolve) => setTimeout(resolve, killAfterMs));
      killed = true;
      server.child.kill("SIGKILL");
      expect(await server.exited).toEqual({ code: null, signal: "SIGKILL" });
      await Promise.all(writers);
      expect(unexpected).toEqual([]);
      flushes += server.lines.filter((line) => line.msg === "memtable flushed").length;
    }

    const last = await startServer();
    replayedRows += last.replayedRows;
    const counts = await rowsPerWrite(clientOf(last.endpoint));
    const lost = [...acknowledged].filter((id) => counts.get(id) !== ROWS_PER_WRITE);
    expect(lost, "acknowledged writes missing rows or holding extra ones").toEqual([]);
    // A write that was not acknowledged is there whole or not at all.
    const partial = [...counts].filter(([, n]) => n !== ROWS_PER_WRITE);
    expect(partial, "writes with some of their rows").toEqual([]);
    // At most the writes in flight at each kill can be there without an acknowledgement.
    const unacknowledged = [...counts.keys()].filter((id) => !acknowledged.has(id));
    expect(unacknowledged.length).toBeLessThanOrEqual(WRITERS * KILL_AFTER_MS.length);
    // The kills left rows only in the WAL, and came while others moved from it to SSTs.
    expect(replayedRows).toBeGreaterThan(0);
    expect(flushes).toBeGreaterThan(0);
  }, 120_000);
});
