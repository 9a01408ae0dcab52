/** TSBS rows written straight into a storage engine (no server), as the query benches load them. */
import { prepareWrite, type StorageEngine } from "@horaedb/horaedb/engine";
import { tsbsWriteRows, type TsbsBatch } from "@horaedb/horaedb/testing";
import type { ProgressBar } from "./progress.js";

/** Writes `batches` into `public.<table>` (created on the first write); returns the rows written. */
export async function writeTsbsBatches(
  engine: StorageEngine,
  table: string,
  batches: Iterable<TsbsBatch>,
  progress: ProgressBar,
): Promise<number> {
  let rows = 0;
  for (const batch of batches) {
    const writeRows = tsbsWriteRows(batch);
    if (engine.table("public", table) === undefined) {
      // TSBS timestamps are fixed dates in the past: keep them from expiring under the default TTL.
      const policy = { autoCreateTable: true, autoAddColumns: true };
      const { schema } = prepareWrite(table, undefined, writeRows, policy);
      await engine.createTable("public", table, schema, { enable_ttl: "false" });
    }
    await engine.write("public", table, writeRows);
    rows += batch.numRows;
    progress.tick(batch.numRows);
  }
  return rows;
}
