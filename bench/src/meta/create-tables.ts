/**
 * Create-table throughput: `count` CreateTable calls through MetaService with `concurrency` in
 * flight, each a create_table procedure (metadata, then the table on the shard's leader and
 * followers). Afterwards every table must be on the instance that leads its shard.
 */
import type { SimulatedInstance } from "@horaedb/horaemeta/testing";
import { ProgressBar } from "../progress.js";
import type { MetaCluster } from "./cluster.js";
import type { CreatedTable } from "./meta-client.js";

export interface CreateTablesResult {
  readonly created: readonly CreatedTable[];
  /** From the first call to the last answer. */
  readonly elapsedMs: number;
  readonly latenciesMs: readonly number[];
}

/** A table horaemeta reported created that is not on the instance leading its shard. */
export class TableMissingError extends Error {
  override readonly name = "TableMissingError";

  constructor(missing: readonly string[], total: number) {
    super(
      `${missing.length} of ${total} created tables are not on the instance leading their shard, e.g. ${missing
        .slice(0, 5)
        .join("; ")}`,
    );
  }
}

export async function measureCreateTables(
  cluster: MetaCluster,
  count: number,
  concurrency: number,
): Promise<CreateTablesResult> {
  const created: CreatedTable[] = [];
  const latenciesMs: number[] = [];
  const progress = new ProgressBar("create table", count, "tables");
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const name = `bench_table_${next++}`;
        const sent = performance.now();
        created.push(await cluster.client.createTable(name));
        latenciesMs.push(performance.now() - sent);
        progress.tick();
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  progress.finish();
  return { created, elapsedMs, latenciesMs };
}

/** Checks that every created table is on the instance leading its shard now; throws TableMissingError. */
export async function checkTablesOnLeaders(
  cluster: MetaCluster,
  created: readonly CreatedTable[],
): Promise<void> {
  const view = await cluster.store.cluster.getView();
  const byName = new Map<string, SimulatedInstance>(
    cluster.instances.map((instance) => [instance.name, instance]),
  );
  const missing: string[] = [];
  for (const table of created) {
    const leader = view.shards.find((shard) => shard.shardId === table.shardId)?.leader ?? null;
    const instance = leader === null ? undefined : byName.get(leader);
    if (instance?.shards.get(table.shardId)?.tables.has(table.tableId) !== true) {
      missing.push(
        `${table.name} (id ${table.tableId}) on shard ${table.shardId}, led by ${leader ?? "nobody"}`,
      );
    }
  }
  if (missing.length > 0) throw new TableMissingError(missing, created.length);
}
