/**
 * The values stored under the keys of `keys.ts`, as the store hands them out. On disk each is JSON
 * with a `format` and a `kind` field added (see `codec.ts`). Times are milliseconds since the Unix
 * epoch on the clock of the horaemeta that wrote them.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type TopologyType = "static" | "dynamic";

/**
 * Empty: created, no shard placed yet. Prepare: shards being placed on nodes. Stable: every shard
 * has a leader. Allowed changes: Empty -> Prepare -> Stable, and Stable -> Prepare when the topology
 * changes again (setting the current state again is a no-op).
 */
export type ClusterState = "Empty" | "Prepare" | "Stable";
export const CLUSTER_STATES: readonly ClusterState[] = ["Empty", "Prepare", "Stable"];

/** Fixed when the cluster is created; later createCluster calls return the stored settings. */
export interface ClusterSettings {
  readonly name: string;
  /** Shards created with the cluster, ids 0 .. shardCount-1. Split and merge change the set later. */
  readonly shardCount: number;
  /** Followers the scheduler places per shard. */
  readonly followersPerShard: number;
  /** static: shards stay on the nodes they were placed on; dynamic: the scheduler moves them. */
  readonly topologyType: TopologyType;
  /** Nodes that must be online before shards are placed. */
  readonly minNodeCount: number;
  /** Lease granted to a node per heartbeat. */
  readonly nodeLeaseTtlMs: number;
  /** Lease of the horaemeta leader in its election. */
  readonly metaLeaderLeaseTtlMs: number;
  readonly createdAtMs: number;
}

export interface ClusterStateRecord {
  readonly state: ClusterState;
  readonly updatedAtMs: number;
}

/** Whether the schedulers (failover, reopen, rebalance) run; operators pause them. */
export interface ScheduleRecord {
  readonly enabled: boolean;
  readonly updatedAtMs: number;
  readonly reason: string;
}

/** Where one shard is served. `leader` null: not placed. Node names are `host:port`. */
export interface ShardAssignment {
  readonly shardId: number;
  readonly leader: string | null;
  readonly followers: readonly string[];
}

/** The placement of every shard of the cluster, sorted by shard id. */
export interface ClusterView {
  /** Topology version: increases by one on every change of the view. Starts at 1. */
  readonly version: number;
  readonly shards: readonly ShardAssignment[];
  readonly updatedAtMs: number;
}

export interface SchemaRecord {
  readonly id: number;
  readonly name: string;
  readonly createdAtMs: number;
}

/** `PARTITION BY KEY(keyColumns) PARTITIONS partitionCount`, as in the proto's PartitionInfo. */
export interface PartitionInfo {
  readonly keyColumns: readonly string[];
  readonly partitionCount: number;
  readonly subTableNames: readonly string[];
}

/**
 * A table. Three kinds share the record: an ordinary table (on one shard), a partitioned table
 * (`partitionInfo` set, `shardId` null: metadata only, it routes to its sub-tables) and a sub-table of
 * a partitioned table (an ordinary table on one shard, with `parentTableId` set).
 */
export interface TableRecord {
  readonly id: number;
  readonly name: string;
  readonly schemaId: number;
  readonly schemaName: string;
  /**
   * The shard whose view lists the table; kept equal to it by every transaction. null for a
   * partitioned table, which no shard holds.
   */
  readonly shardId: number | null;
  /** Set on a partitioned table only; its `subTableNames` are the sub-tables' names, in order. */
  readonly partitionInfo: PartitionInfo | null;
  /** Set on a sub-table only: the id of its partitioned table. */
  readonly parentTableId: number | null;
  /** The table schema in the shape of the proto's TableSchema; stored as given. */
  readonly tableSchema: JsonObject;
  /** Table options (schema.proto lists the keys). */
  readonly options: Readonly<Record<string, string>>;
  readonly createdAtMs: number;
  /** The id of the create request that made the table, so a retried request can recognise it. */
  readonly createRequestId: string;
}

/** (schema id, table name) -> table id. */
export interface TableNameRecord {
  readonly tableId: number;
}

/** The tables of one shard. */
export interface ShardView {
  readonly shardId: number;
  /** Increases by one on every change of the table set or the placement of the shard. Starts at 1. */
  readonly version: number;
  readonly tableIds: readonly number[];
  readonly updatedAtMs: number;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export type ShardRole = "leader" | "follower";
export type ShardStatus = "unspecified" | "opening" | "ready" | "partially_open" | "closing" | "closed";

/** A shard as a node reports holding it. */
export interface ReportedShard {
  readonly shardId: number;
  readonly role: ShardRole;
  readonly version: number;
  readonly status: ShardStatus;
}

export interface NodeLoad {
  readonly cpuUsage: number;
  readonly memoryBytes: number;
  readonly writeRowsPerSecond: number;
  readonly queriesPerSecond: number;
}

export interface ShardLoad {
  readonly shardId: number;
  readonly memtableBytes: number;
  readonly writeRowsPerSecond: number;
}

/** What the last heartbeat of a node reported, and the lease it was granted. */
export interface NodeRecord {
  /** `host:port` of the node's gRPC endpoint. */
  readonly name: string;
  readonly endpoint: Endpoint;
  readonly zone: string;
  readonly binaryVersion: string;
  readonly lastHeartbeatMs: number;
  readonly leaseTtlMs: number;
  /** lastHeartbeatMs + leaseTtlMs; for logs and admin views (fencing relies on the etcd lease). */
  readonly leaseDeadlineMs: number;
  /** The etcd lease (decimal id) that keeps the node's lease key alive. */
  readonly etcdLeaseId: string;
  readonly shards: readonly ReportedShard[];
  readonly load: NodeLoad | null;
  readonly shardLoads: readonly ShardLoad[];
}

/** Value of a node's lease key; the key exists while the etcd lease lives. */
export interface NodeLeaseRecord {
  readonly etcdLeaseId: string;
  readonly grantedAtMs: number;
}

export type NodeState = "online" | "offline";

/** A node record with its liveness: online while its lease key exists. */
export interface NodeStatus extends NodeRecord {
  readonly state: NodeState;
}

export interface ProcedureHistoryEntry {
  readonly state: string;
  readonly atMs: number;
  readonly detail?: string;
}

/** A persisted procedure. Its kinds and state machines are defined by the procedures themselves. */
export interface ProcedureRecord {
  readonly id: number;
  readonly kind: string;
  readonly state: string;
  readonly shardIds: readonly number[];
  readonly params: JsonValue;
  readonly history: readonly ProcedureHistoryEntry[];
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/**
 * Held by an unfinished procedure on each shard it works on, so that at most one procedure runs per
 * shard; created with the procedure and deleted when it ends, each in one transaction.
 */
export interface ShardLockRecord {
  readonly procedureId: number;
  readonly kind: string;
}

/** The first id of its kind that has not been handed out. */
export interface IdCounterRecord {
  readonly next: number;
}
