/**
 * What the horaemeta leader does for each MetaService call, on the metadata store. Every store
 * write goes through the term's fenced store (etcd refuses it once the term's election key is gone),
 * is preceded by `term.assertActive()`, and is itself a compare-and-swap, so a deposed leader's write
 * cannot corrupt the mapping.
 */
import { randomUUID } from "node:crypto";
import type { meta } from "@horaedb/proto";
import { pickShardForTable, pickShardsForPartitions } from "../cluster/table-placement.js";
import type { LeaderTerm } from "../election/leader-term.js";
import { InvalidRequestError, SubTableOperationError } from "../errors.js";
import {
  createPartitionedTableProcedure,
  createTableProcedure,
  dropPartitionedTableProcedure,
  dropTableProcedure,
} from "../procedure/kinds/index.js";
import { tableAsJson } from "../procedure/kinds/table-create-drop.js";
import type { ProcedureManager } from "../procedure/procedure-manager.js";
import {
  MIN_LEASE_TTL_MS,
  TableAlreadyExistsError,
  TableNotFoundError,
  type ClusterSettings,
  type MetadataStore,
  type NodeStatus,
  type ShardRole,
  type TableRecord,
} from "../metadata/index.js";
import {
  nodeEndpoint,
  nodeName,
  nodeShard,
  reportedNodeLoad,
  reportedShard,
  reportedShardLoad,
  safeInteger,
  shardInfo,
  tableInfo,
} from "./proto-mapping.js";
import {
  checkEngine,
  checkTableOptions,
  requestedPartitioning,
  requireNonEmpty,
  requirePresent,
  tableSchemaRecord,
  type RequestedPartitioning,
} from "./request-validation.js";
import { OK_HEADER } from "./response-status.js";

/**
 * The lease a node gets: what it asked for, at most the cluster's `nodeLeaseTtlMs` and at least
 * etcd's minimum; asking for 0 means the cluster's.
 */
export function grantedNodeLeaseTtlMs(requestedMs: number, clusterMaxMs: number): number {
  if (requestedMs === 0) return clusterMaxMs;
  return Math.min(Math.max(requestedMs, MIN_LEASE_TTL_MS), clusterMaxMs);
}

export interface MetaOperationsOptions {
  readonly store: MetadataStore;
  /** Runs table creates and drops as procedures (with events to the shard's instances). */
  readonly procedures: ProcedureManager;
  /** Called when a node without a live lease (new, or back after expiring) sends a heartbeat. */
  readonly onNodeJoined: (nodeName: string) => void;
}

export class MetaOperations {
  readonly #store: MetadataStore;
  readonly #procedures: ProcedureManager;
  /** Creates under way per shard, counted when picking a shard so concurrent creates spread out. */
  readonly #pendingCreates = new Map<number, number>();
  readonly #onNodeJoined: (nodeName: string) => void;
  /** Cluster settings never change after creation, so they are read once. */
  #settings: ClusterSettings | undefined;

  constructor(options: MetaOperationsOptions) {
    this.#store = options.store;
    this.#procedures = options.procedures;
    this.#onNodeJoined = options.onNodeJoined;
  }

  async nodeHeartbeat(
    request: meta.NodeHeartbeatRequest__Output,
    term: LeaderTerm,
  ): Promise<meta.NodeHeartbeatResponse> {
    const info = requirePresent("info", request.info);
    const name = nodeName("info.endpoint", info.endpoint);
    const caller = request.header?.node ?? "";
    if (caller !== "" && caller !== name) {
      throw new InvalidRequestError("header.node", `${caller} differs from info.endpoint ${name}`);
    }
    const settings = await this.#clusterSettings();
    const leaseTtlMs = grantedNodeLeaseTtlMs(
      safeInteger("info.lease_ttl_ms", info.leaseTtlMs),
      settings.nodeLeaseTtlMs,
    );
    const shards = info.shardInfos.map((shard, i) => reportedShard(`info.shard_infos[${i}]`, shard));
    const shardLoads = info.shardLoads.map((load, i) => reportedShardLoad(`info.shard_loads[${i}]`, load));
    const load = reportedNodeLoad(info.load);
    const endpoint = requirePresent("info.endpoint", info.endpoint);

    term.assertActive();
    const result = await term.fenced(this.#store).nodes.heartbeat({
      name,
      endpoint: { host: endpoint.host, port: endpoint.port },
      zone: info.zone,
      binaryVersion: info.binaryVersion,
      leaseTtlMs,
      shards,
      load,
      shardLoads,
    });
    if (!result.renewed) this.#onNodeJoined(name);
    const view = await this.#store.cluster.getView();
    return {
      header: OK_HEADER,
      clusterVersion: String(view.version),
      leaseTtlMs: String(result.leaseTtlMs),
      leaseDeadlineUnixMs: String(result.leaseDeadlineMs),
    };
  }

  async allocSchemaId(
    request: meta.AllocSchemaIdRequest__Output,
    term: LeaderTerm,
  ): Promise<meta.AllocSchemaIdResponse> {
    const name = requireNonEmpty("name", request.name);
    term.assertActive();
    const { schema } = await term.fenced(this.#store).schemas.create(name);
    return { header: OK_HEADER, name: schema.name, id: schema.id };
  }

  /**
   * Creates a table with a create_table procedure: metadata on the shard holding the fewest tables
   * among those that have a leader, then the table on the shard's instances. With `partition_info`,
   * a partitioned table with a create_partitioned_table procedure instead (see #createPartitioned).
   * An instance that refuses or cannot be reached rolls the create back, and the call fails with its
   * reason.
   */
  async createTable(
    request: meta.CreateTableRequest__Output,
    term: LeaderTerm,
  ): Promise<meta.CreateTableResponse> {
    const schemaName = requireNonEmpty("schema_name", request.schemaName);
    const tableName = requireNonEmpty("name", request.name);
    checkEngine(request.engine);
    checkTableOptions(request.options);
    const tableSchema = tableSchemaRecord(request.tableSchema);
    const partitioning =
      request.partitionInfo === null
        ? undefined
        : requestedPartitioning(request.partitionInfo, tableName, request.tableSchema!);

    const existing = await this.#store.tables.get(schemaName, tableName);
    if (existing !== undefined) return this.#existingTable(existing, request.createIfNotExist);
    if (partitioning !== undefined) {
      return this.#createPartitioned(request, schemaName, tableName, tableSchema, partitioning, term);
    }

    const [view, shards] = await Promise.all([this.#store.cluster.getView(), this.#store.shards.list()]);
    const shard = pickShardForTable(view, shards, this.#pendingCreates);
    const release = this.#reserve([shard.shardId]);
    try {
      const procedure = await this.#procedures.run(
        createTableProcedure,
        {
          schemaName,
          tableName,
          shardId: shard.shardId,
          tableSchema,
          options: { ...request.options },
          engine: request.engine,
          requestId: randomUUID(),
        },
        [shard.shardId],
        term,
      );
      const params = createTableProcedure.parseParams(procedure.params);
      const table = await this.#store.tables.getById(params.tableId!);
      if (table === undefined) throw new TableNotFoundError(`${schemaName}.${tableName}`);
      // The shard it landed on at the version the create made (what the leader was told).
      return {
        header: OK_HEADER,
        createdTable: tableInfo(table),
        shardInfo: shardInfo(params.shardId, "leader", params.shardVersion!),
      };
    } catch (error) {
      if (error instanceof TableAlreadyExistsError)
        return this.#existingTable(error.table, request.createIfNotExist);
      throw error;
    } finally {
      release();
    }
  }

  /**
   * A partitioned table: its sub-tables go to different shards, spread over the nodes leading them
   * (pickShardsForPartitions); the create_partitioned_table procedure locks all those shards,
   * creates the metadata of the table and every sub-table at once, then each sub-table on its
   * shard's instances, or rolls everything back. The answer carries the table with its partition
   * info (sub-table names included) and no shard: the partitioned table itself is on none.
   */
  async #createPartitioned(
    request: meta.CreateTableRequest__Output,
    schemaName: string,
    tableName: string,
    tableSchema: ReturnType<typeof tableSchemaRecord>,
    partitioning: RequestedPartitioning,
    term: LeaderTerm,
  ): Promise<meta.CreateTableResponse> {
    const count = partitioning.subTableNames.length;
    const [view, shards] = await Promise.all([this.#store.cluster.getView(), this.#store.shards.list()]);
    const picked = pickShardsForPartitions(view, shards, count, this.#pendingCreates);
    const shardIds = picked.map((shard) => shard.shardId);
    const release = this.#reserve(shardIds);
    try {
      const procedure = await this.#procedures.run(
        createPartitionedTableProcedure,
        {
          schemaName,
          tableName,
          tableSchema,
          options: { ...request.options },
          engine: request.engine,
          keyColumns: [...partitioning.keyColumns],
          subTables: partitioning.subTableNames.map((name, i) => ({ name, shardId: shardIds[i]! })),
          requestId: randomUUID(),
        },
        [...new Set(shardIds)],
        term,
      );
      const params = createPartitionedTableProcedure.parseParams(procedure.params);
      const table = await this.#store.tables.getById(params.tableId!);
      if (table === undefined) throw new TableNotFoundError(`${schemaName}.${tableName}`);
      return { header: OK_HEADER, createdTable: tableInfo(table), shardInfo: null };
    } catch (error) {
      if (error instanceof TableAlreadyExistsError)
        return this.#existingTable(error.table, request.createIfNotExist);
      throw error;
    } finally {
      release();
    }
  }

  /**
   * Drops a table with a drop_table procedure: metadata first, then the shard's instances. A
   * partitioned table goes with all its sub-tables (drop_partitioned_table, locking their shards);
   * a sub-table cannot be dropped on its own.
   */
  async dropTable(request: meta.DropTableRequest__Output, term: LeaderTerm): Promise<meta.DropTableResponse> {
    const schemaName = requireNonEmpty("schema_name", request.schemaName);
    const tableName = requireNonEmpty("name", request.name);
    const table = await this.#store.tables.get(schemaName, tableName);
    if (table === undefined) throw new TableNotFoundError(`${schemaName}.${tableName}`);
    if (table.parentTableId !== null) {
      const parent = await this.#store.tables.getById(table.parentTableId);
      throw new SubTableOperationError(
        "drop",
        `${schemaName}.${tableName}`,
        parent === undefined ? `id ${table.parentTableId}` : `${parent.schemaName}.${parent.name}`,
      );
    }
    if (table.shardId === null) {
      const subTables = await this.#store.tables.subTablesOf(table);
      await this.#procedures.run(
        dropPartitionedTableProcedure,
        { schemaName, tableName, tableId: table.id, subTables: subTables.map(tableAsJson) },
        [...new Set(subTables.map((sub) => sub.shardId!))],
        term,
      );
    } else {
      await this.#procedures.run(
        dropTableProcedure,
        { schemaName, tableName, tableId: table.id, shardId: table.shardId, table: tableAsJson(table) },
        [table.shardId],
        term,
      );
    }
    return { header: OK_HEADER, droppedTable: tableInfo(table) };
  }

  async routeTables(request: meta.RouteTablesRequest__Output): Promise<meta.RouteTablesResponse> {
    const schemaName = requireNonEmpty("schema_name", request.schemaName);
    request.tableNames.forEach((name, i) => requireNonEmpty(`table_names[${i}]`, name));
    const { clusterVersion, routes } = await this.#store.routes.route(schemaName, request.tableNames);
    return {
      header: OK_HEADER,
      clusterVersion: String(clusterVersion),
      // A partitioned table is on no shard: its entry has no node shards, and its partition info
      // names the sub-tables, which the caller routes like any table.
      entries: routes.map((route) => {
        const shardId = route.shardId;
        return {
          table: tableInfo(route.table),
          nodeShards:
            shardId === null
              ? []
              : [
                  ...(route.leader === null
                    ? []
                    : [nodeShard(route.leader, shardId, "leader", route.shardVersion)]),
                  ...route.followers.map((follower) =>
                    nodeShard(follower, shardId, "follower", route.shardVersion),
                  ),
                ],
        };
      }),
    };
  }

  /** The tables of each shard, with the shard's role for the calling node (`header.node`). */
  async getTablesOfShards(
    request: meta.GetTablesOfShardsRequest__Output,
  ): Promise<meta.GetTablesOfShardsResponse> {
    const caller = request.header?.node ?? "";
    const [view, tablesOfShards] = await Promise.all([
      this.#store.cluster.getView(),
      this.#store.tables.tablesOfShards(request.shardIds),
    ]);
    const placements = new Map(view.shards.map((shard) => [shard.shardId, shard]));
    return {
      header: OK_HEADER,
      tablesOfShards: tablesOfShards.map(({ shard, tables }) => {
        const placement = placements.get(shard.shardId);
        const role: ShardRole | null =
          placement?.leader === caller && caller !== ""
            ? "leader"
            : placement?.followers.includes(caller) === true
              ? "follower"
              : null;
        return { shardInfo: shardInfo(shard.shardId, role, shard.version), tables: tables.map(tableInfo) };
      }),
    };
  }

  /** Every placement of the cluster view: one entry per shard per node holding it. */
  async getNodes(_request: meta.GetNodesRequest__Output): Promise<meta.GetNodesResponse> {
    const [view, shards, nodes] = await Promise.all([
      this.#store.cluster.getView(),
      this.#store.shards.list(),
      this.#store.nodes.list(),
    ]);
    const versions = new Map(shards.map((shard) => [shard.shardId, shard.version]));
    const byName = new Map<string, NodeStatus>(nodes.map((node) => [node.name, node]));
    const placed = (name: string, shardId: number, role: ShardRole): meta.NodeShard => ({
      endpoint: nodeEndpoint(name, byName.get(name)?.endpoint),
      shardInfo: shardInfo(shardId, role, versions.get(shardId) ?? 0),
    });
    return {
      header: OK_HEADER,
      clusterVersion: String(view.version),
      nodeShards: view.shards.flatMap((shard) => [
        ...(shard.leader === null ? [] : [placed(shard.leader, shard.shardId, "leader")]),
        ...shard.followers.map((follower) => placed(follower, shard.shardId, "follower")),
      ]),
    };
  }

  /** Counts creates headed for `shardIds` while they run, so concurrent creates spread out. */
  #reserve(shardIds: readonly number[]): () => void {
    const pending = this.#pendingCreates;
    for (const shardId of shardIds) pending.set(shardId, (pending.get(shardId) ?? 0) + 1);
    return () => {
      for (const shardId of shardIds) {
        const left = (pending.get(shardId) ?? 1) - 1;
        if (left === 0) pending.delete(shardId);
        else pending.set(shardId, left);
      }
    };
  }

  async #existingTable(table: TableRecord, createIfNotExist: boolean): Promise<meta.CreateTableResponse> {
    if (!createIfNotExist) throw new TableAlreadyExistsError(table);
    if (table.shardId === null) return { header: OK_HEADER, createdTable: tableInfo(table), shardInfo: null };
    const shard = await this.#store.shards.get(table.shardId);
    return {
      header: OK_HEADER,
      createdTable: tableInfo(table),
      shardInfo: shardInfo(table.shardId, "leader", shard.version),
    };
  }

  async #clusterSettings(): Promise<ClusterSettings> {
    this.#settings ??= await this.#store.cluster.getSettings();
    return this.#settings;
  }
}
