export {
  ClusterStore,
  DEFAULT_CLUSTER_SETTINGS,
  MAX_ASSIGNMENTS_PER_CALL,
  MIN_LEASE_TTL_MS,
  type AssignShardsRequest,
  type AssignShardsResult,
  type CreateClusterRequest,
  type CreateClusterResult,
} from "./cluster-store.js";
export {
  decodeRecord,
  encodeRecord,
  jsonObjectSchema,
  METADATA_FORMAT,
  type MetadataRecordKind,
} from "./codec.js";
export {
  ClusterNotFoundError,
  ClusterStateConflictError,
  ClusterViewConflictError,
  IdAllocationConflictError,
  IdSpaceExhaustedError,
  InvalidClusterStateTransitionError,
  InvalidMetadataRequestError,
  LeaderFenceError,
  MetadataConflictError,
  MetadataCorruptionError,
  MetadataError,
  MetadataEtcdError,
  MetadataNotFoundError,
  MetadataTimeoutError,
  MetadataUnavailableError,
  ProcedureConflictError,
  ProcedureNotFoundError,
  SchemaNotFoundError,
  ShardLockedError,
  ShardNotEmptyError,
  ShardNotFoundError,
  ShardVersionConflictError,
  SubTableNameTakenError,
  TableAlreadyExistsError,
  TableConflictError,
  TableNotFoundError,
  TableNotInShardError,
  type MetadataResource,
} from "./errors.js";
export { MAX_TXN_GUARDS, MAX_TXN_OPS, type WriteFence } from "./etcd-kv.js";
export { DEFAULT_ID_BLOCK_SIZES, IdAllocators } from "./id-allocator.js";
export { ID_KINDS, MetadataKeys, type IdKind, type ParsedMetadataKey } from "./keys.js";
export {
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_ROOT_PATH,
  MetadataStore,
  metadataStoreOptionsFromConfig,
  type MetadataStoreConnectOptions,
  type MetadataStoreOptions,
} from "./metadata-store.js";
export { connectEtcd, etcdFaultHandling, type EtcdClientOptions } from "./etcd-client.js";
export { NodeStore, type HeartbeatRequest, type HeartbeatResult } from "./node-store.js";
export {
  ProcedureStore,
  type CreateProcedureRequest,
  type PutProcedureOptions,
  type StoredProcedure,
  type StoredShardLock,
} from "./procedure-store.js";
export type * from "./records.js";
export { CLUSTER_STATES } from "./records.js";
export { retryOnConflict, type RetryOnConflictOptions } from "./retry.js";
export { RouteReader, type RouteResult, type RoutedNode, type TableRoute } from "./route-reader.js";
export { SnapshotReader, type ClusterSnapshot } from "./snapshot-reader.js";
export { SchemaStore, type CreateSchemaResult } from "./schema-store.js";
export { ShardStore, type CreateShardResult } from "./shard-store.js";
export {
  MAX_PARTITIONS,
  MAX_TABLES_PER_MOVE,
  TableStore,
  type CreatePartitionedTableRequest,
  type CreatePartitionedTableResult,
  type CreateTableRequest,
  type CreateTableResult,
  type DropPartitionedTableResult,
  type DropTableRequest,
  type DropTableResult,
  type MoveTablesRequest,
  type MoveTablesResult,
  type TablesOfShard,
} from "./table-store.js";
