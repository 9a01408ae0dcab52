/**
 * The invariants of the cluster mapping (design.md §1, §2, §5, §6), checked on one consistent read of
 * the metadata. `InvariantChecker` also remembers the versions it saw, so that a later check finds a
 * version that went down. Used by the tests after every step, and by the admin API (`GET
 * /api/v1/check`) for operators.
 */
import { ClusterNotFoundError } from "../metadata/index.js";
import type {
  ClusterView,
  MetadataStore,
  ShardView,
  StoredProcedure,
  StoredShardLock,
  TableRecord,
} from "../metadata/index.js";
import { isTerminal } from "../procedure/definition.js";

export interface MetadataSnapshot {
  readonly view: ClusterView;
  readonly shards: readonly ShardView[];
  readonly tables: readonly TableRecord[];
  readonly procedures: readonly StoredProcedure[];
  readonly locks: readonly StoredShardLock[];
  readonly stable: boolean;
}

/** The mapping at one etcd revision; throws ClusterNotFoundError before the cluster exists. */
export async function readSnapshot(store: MetadataStore): Promise<MetadataSnapshot> {
  const snapshot = await store.snapshots.read();
  if (snapshot.view === undefined) throw new ClusterNotFoundError(store.keys.root);
  return { ...snapshot, view: snapshot.view, stable: snapshot.state === "Stable" };
}

/** Every violated invariant of `snapshot`, as sentences; empty when all hold. */
export function violations(snapshot: MetadataSnapshot): string[] {
  const found: string[] = [];
  const { view, shards, tables, procedures, locks } = snapshot;
  const shardIds = new Set(shards.map((shard) => shard.shardId));
  const placed = new Set(view.shards.map((shard) => shard.shardId));
  for (const id of shardIds)
    if (!placed.has(id)) found.push(`shard ${id} has a view but no cluster view entry`);
  for (const id of placed)
    if (!shardIds.has(id)) found.push(`shard ${id} is in the cluster view but has no view`);

  for (const shard of view.shards) {
    if (snapshot.stable && shard.leader === null) found.push(`shard ${shard.shardId} has no leader`);
    if (shard.leader !== null && shard.followers.includes(shard.leader)) {
      found.push(`shard ${shard.shardId} has a follower on its leader's node ${shard.leader}`);
    }
    if (new Set(shard.followers).size !== shard.followers.length) {
      found.push(`shard ${shard.shardId} lists a follower twice`);
    }
  }

  const byId = new Map(tables.map((table) => [table.id, table]));
  const listedIn = new Map<number, number[]>();
  for (const shard of shards) {
    for (const tableId of shard.tableIds)
      listedIn.set(tableId, [...(listedIn.get(tableId) ?? []), shard.shardId]);
  }
  for (const [tableId, holders] of listedIn) {
    if (holders.length > 1) found.push(`table ${tableId} is in shards ${holders.join(", ")}`);
    const table = byId.get(tableId);
    if (table === undefined) found.push(`shard ${holders[0]} lists table ${tableId}, which has no record`);
    else if (table.shardId === null) {
      found.push(`partitioned table ${tableId} (${table.name}) is listed in shards ${holders.join(", ")}`);
    } else if (!holders.includes(table.shardId)) {
      found.push(`table ${tableId} names shard ${table.shardId} but is listed in ${holders.join(", ")}`);
    }
  }
  for (const table of tables) {
    // A partitioned table is metadata only: no shard holds it (its sub-tables are on shards).
    if (table.shardId !== null && !listedIn.has(table.id)) {
      found.push(`table ${table.id} (${table.name}) is in no shard`);
    }
  }
  found.push(...partitionViolations(tables));

  const unfinished = new Map(
    procedures.filter((p) => !isTerminal(p.procedure.state)).map((p) => [p.procedure.id, p.procedure]),
  );
  for (const lock of locks) {
    const holder = unfinished.get(lock.procedureId);
    if (holder === undefined)
      found.push(`shard ${lock.shardId} is locked by procedure ${lock.procedureId}, which is not running`);
    else if (!holder.shardIds.includes(lock.shardId)) {
      found.push(`shard ${lock.shardId} is locked by procedure ${lock.procedureId}, which does not name it`);
    }
  }
  const lockHolder = new Map(locks.map((lock) => [lock.shardId, lock.procedureId]));
  for (const procedure of unfinished.values()) {
    for (const shardId of procedure.shardIds) {
      if (lockHolder.get(shardId) !== procedure.id) {
        found.push(`unfinished procedure ${procedure.id} (${procedure.kind}) does not hold shard ${shardId}`);
      }
    }
  }
  return found;
}

/**
 * The invariants of partitioned tables: a partitioned table is on no shard and lists one sub-table
 * per partition, each an existing table of its schema that names it as its parent (each of those is
 * on exactly one shard: the checks of every table above); every sub-table's parent exists and lists
 * it; nothing is both.
 */
function partitionViolations(tables: readonly TableRecord[]): string[] {
  const found: string[] = [];
  const byId = new Map(tables.map((table) => [table.id, table]));
  const byName = new Map(tables.map((table) => [`${table.schemaId}/${table.name}`, table]));
  for (const table of tables) {
    const label = `${table.schemaName}.${table.name} (${table.id})`;
    const info = table.partitionInfo;
    if (info === null) {
      if (table.shardId === null) found.push(`table ${label} is on no shard but is not partitioned`);
    } else {
      if (table.shardId !== null) found.push(`partitioned table ${label} names shard ${table.shardId}`);
      if (table.parentTableId !== null) found.push(`partitioned table ${label} is a sub-table too`);
      if (info.subTableNames.length !== info.partitionCount) {
        found.push(
          `partitioned table ${label} lists ${info.subTableNames.length} sub-tables for ${info.partitionCount} partitions`,
        );
      }
      for (const name of info.subTableNames) {
        const sub = byName.get(`${table.schemaId}/${name}`);
        if (sub === undefined)
          found.push(`partitioned table ${label} lists sub-table ${name}, which does not exist`);
        else if (sub.parentTableId !== table.id) {
          found.push(`partitioned table ${label} lists ${name} (${sub.id}), which is not its sub-table`);
        }
      }
    }
    if (table.parentTableId !== null) {
      const parent = byId.get(table.parentTableId);
      if (parent === undefined) {
        found.push(`sub-table ${label} names partitioned table ${table.parentTableId}, which does not exist`);
      } else if (
        parent.partitionInfo?.subTableNames.includes(table.name) !== true ||
        parent.schemaId !== table.schemaId
      ) {
        found.push(`sub-table ${label} is not listed by its partitioned table ${parent.id}`);
      }
    }
  }
  return found;
}

/** Checks snapshots one after another; versions must never go down between them. */
export class InvariantChecker {
  #clusterVersion = 0;
  readonly #shardVersions = new Map<number, number>();

  async check(store: MetadataStore): Promise<string[]> {
    return this.checkSnapshot(await readSnapshot(store));
  }

  checkSnapshot(snapshot: MetadataSnapshot): string[] {
    const found = violations(snapshot);
    if (snapshot.view.version < this.#clusterVersion) {
      found.push(`the cluster version went down from ${this.#clusterVersion} to ${snapshot.view.version}`);
    }
    this.#clusterVersion = Math.max(this.#clusterVersion, snapshot.view.version);
    for (const shard of snapshot.shards) {
      const seen = this.#shardVersions.get(shard.shardId) ?? 0;
      if (shard.version < seen)
        found.push(`shard ${shard.shardId}'s version went down from ${seen} to ${shard.version}`);
      this.#shardVersions.set(shard.shardId, Math.max(seen, shard.version));
    }
    return found;
  }
}
