export {
  horaeMetaConfigDefinition,
  resolveHoraeMetaConfig,
  topologyTypes,
  type HoraeMetaConfig,
  type HoraeMetaConfigInput,
} from "./config.js";
export {
  ClusterMismatchError,
  ClusterNotReadyError,
  ForwardingError,
  HoraeMetaError,
  InvalidRequestError,
  NoLeaderError,
  NotLeaderError,
  SubTableOperationError,
  UnsupportedRequestError,
} from "./errors.js";
export { ELECTION_NAME, LeaderElection, type LeaderElectionOptions } from "./election/leader-election.js";
export {
  FENCE_MARGIN_RATIO,
  LeaderTerm,
  type LeaderTermOptions,
  type MonotonicClock,
} from "./election/leader-term.js";
export { placeUnassignedShards, type PlacementNode } from "./cluster/shard-placement.js";
export { pickShardForTable, pickShardsForPartitions } from "./cluster/table-placement.js";
export {
  ClusterScheduler,
  type ClusterSchedulerOptions,
  type ReconcileOutcome,
} from "./cluster/cluster-scheduler.js";
export {
  FORWARDED_BY_METADATA_KEY,
  LeaderForwarder,
  type LeaderLocator,
} from "./service/leader-forwarder.js";
export {
  META_SERVICE_NAME,
  metaServiceHandlers,
  type CallForwarder,
  type Leadership,
  type MetaServiceOperations,
  type MetaServiceOptions,
} from "./service/meta-service.js";
export { MetaOperations, grantedNodeLeaseTtlMs } from "./service/meta-operations.js";
export type { LeaderStatusBody } from "./http/admin-routes.js";
export { HoraeMetaServer, type HoraeMetaServerOptions } from "./server.js";
export * as metadata from "./metadata/index.js";
export { InvariantChecker, readSnapshot, violations, type MetadataSnapshot } from "./cluster/invariants.js";
export { rebalanceMoves, ShardScheduler, type RebalanceMove } from "./cluster/shard-scheduler.js";
export {
  FINISHED,
  ProcedureAbortError,
  ROLLED_BACK,
  type ProcedureDefinition,
  type Step,
  type StepContext,
  type StepResult,
} from "./procedure/definition.js";
export { EventDeadlineError, EventRefusedError, MetaEventSender } from "./procedure/event-sender.js";
export { ProcedureManager, ShardBusyError, type ProcedureFailpoint } from "./procedure/procedure-manager.js";
export * as procedureKinds from "./procedure/kinds/index.js";
