/** Route lookup: where tables are served, read at one etcd revision so every part agrees. */
import { decodeRecord } from "./codec.js";
import { recordAt, type StoreContext } from "./context.js";
import { ClusterNotFoundError, MetadataCorruptionError } from "./errors.js";
import type { Endpoint, NodeState, TableRecord } from "./records.js";
import { requireName } from "./validation.js";

/** A node serving a shard; `endpoint` is null when the node never reported a heartbeat. */
export interface RoutedNode {
  readonly name: string;
  readonly endpoint: Endpoint | null;
  readonly state: NodeState;
}

/**
 * Where a table is served. A partitioned table is served by no shard (shardId null, no leader, no
 * followers): its record's `partitionInfo` names the sub-tables, each routed like any table.
 */
export interface TableRoute {
  readonly table: TableRecord;
  readonly shardId: number | null;
  /** 0 for a partitioned table. */
  readonly shardVersion: number;
  /** null while the shard has no leader, and for a partitioned table. */
  readonly leader: RoutedNode | null;
  readonly followers: readonly RoutedNode[];
}

export interface RouteResult {
  /** Topology version of the cluster view the routes were taken from. */
  readonly clusterVersion: number;
  /** One route per requested table that exists, in request order. */
  readonly routes: readonly TableRoute[];
}

export class RouteReader {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Routes of `tableNames` in `schemaName`; tables (or a schema) that do not exist are left out. */
  async route(schemaName: string, tableNames: readonly string[]): Promise<RouteResult> {
    const { kv, keys } = this.#ctx;
    const operation = "route tables";
    requireName("schemaName", schemaName);
    tableNames.forEach((name, i) => requireName(`tableNames[${i}]`, name));

    const viewKey = keys.clusterView();
    const schemaKey = keys.schema(schemaName);
    const first = await kv.read(operation, [viewKey, schemaKey]);
    const view = recordAt(first, "cluster_view", viewKey);
    if (view === undefined) throw new ClusterNotFoundError(keys.root);
    const schema = recordAt(first, "schema", schemaKey);
    if (schema === undefined || tableNames.length === 0) return { clusterVersion: view.version, routes: [] };
    const at = first.revision;

    const nameKeys = tableNames.map((name) => keys.tableByName(schema.id, name));
    const names = await kv.read(operation, nameKeys, at);
    const tableIds = nameKeys.map((key) => recordAt(names, "table_name", key)?.tableId);
    const idKeys = tableIds.flatMap((id) => (id === undefined ? [] : [keys.tableById(id)]));
    const records = await kv.read(operation, idKeys, at);
    const tables = tableIds.flatMap((id, i) => {
      if (id === undefined) return [];
      const table = recordAt(records, "table", keys.tableById(id));
      if (table === undefined) {
        throw new MetadataCorruptionError(nameKeys[i]!, `names table ${id}, which has no record`);
      }
      return [table];
    });

    const shardIds = [...new Set(tables.flatMap((table) => (table.shardId === null ? [] : [table.shardId])))];
    const [shards, nodes, leases] = await Promise.all([
      kv.read(
        operation,
        shardIds.map((id) => keys.shardView(id)),
        at,
      ),
      kv.readPrefix(operation, keys.nodesPrefix(), at),
      kv.readPrefix(operation, keys.nodeLeasesPrefix(), at),
    ]);
    const endpoints = new Map<string, Endpoint>();
    for (const entry of nodes.entries) {
      const node = decodeRecord("node", entry.key, entry.value);
      endpoints.set(node.name, node.endpoint);
    }
    const online = new Set<string>();
    for (const entry of leases.entries) {
      const parsed = keys.parse(entry.key);
      if (parsed?.type === "nodeLease") online.add(parsed.nodeName);
    }
    const routed = (name: string): RoutedNode => ({
      name,
      endpoint: endpoints.get(name) ?? null,
      state: online.has(name) ? "online" : "offline",
    });
    const placements = new Map(view.shards.map((entry) => [entry.shardId, entry]));

    const routes = tables.map((table): TableRoute => {
      if (table.shardId === null) {
        return { table, shardId: null, shardVersion: 0, leader: null, followers: [] };
      }
      const shardKey = keys.shardView(table.shardId);
      const shard = recordAt(shards, "shard_view", shardKey);
      if (shard === undefined) {
        throw new MetadataCorruptionError(
          keys.tableById(table.id),
          `names shard ${table.shardId}, which has no view`,
        );
      }
      const placement = placements.get(table.shardId);
      return {
        table,
        shardId: table.shardId,
        shardVersion: shard.version,
        leader: placement === undefined || placement.leader === null ? null : routed(placement.leader),
        followers: (placement?.followers ?? []).map(routed),
      };
    });
    return { clusterVersion: view.version, routes };
  }
}
