/**
 * Errors of the metadata store. Every error says whether retrying can help (`retryable`):
 * - conflicts (a compare-and-swap guard failed): re-read, decide again, retry;
 * - timeouts and unavailability: retry the same call; a write that failed this way may or may not have
 *   been applied, so callers retry operations that are answered consistently on a repeat (see README);
 * - everything else (not found, already exists, invalid request, corruption) fails the same way again.
 */
import type { ClusterState, TableRecord } from "./records.js";

export abstract class MetadataError extends Error {
  abstract readonly retryable: boolean;
}

/** An etcd call did not finish within its deadline. */
export class MetadataTimeoutError extends MetadataError {
  override readonly name = "MetadataTimeoutError";
  readonly retryable = true;
  readonly operation: string;
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(`etcd ${operation} did not finish within ${timeoutMs} ms`, options);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/** etcd could not be reached or answered with a transient failure. */
export class MetadataUnavailableError extends MetadataError {
  override readonly name = "MetadataUnavailableError";
  readonly retryable = true;
  readonly operation: string;

  constructor(operation: string, detail: string, options?: { cause?: unknown }) {
    super(`etcd ${operation} failed: ${detail}`, options);
    this.operation = operation;
  }
}

/** etcd refused a call for a reason retrying does not fix (e.g. a request too large). */
export class MetadataEtcdError extends MetadataError {
  override readonly name = "MetadataEtcdError";
  readonly retryable = false;
  readonly operation: string;

  constructor(operation: string, detail: string, options?: { cause?: unknown }) {
    super(`etcd ${operation} failed: ${detail}`, options);
    this.operation = operation;
  }
}

/** A stored value cannot be decoded, or stored values contradict each other. */
export class MetadataCorruptionError extends MetadataError {
  override readonly name = "MetadataCorruptionError";
  readonly retryable = false;
  readonly key: string;
  readonly reason: string;

  constructor(key: string, reason: string, options?: { cause?: unknown }) {
    super(`corrupt metadata at ${key}: ${reason}`, options);
    this.key = key;
    this.reason = reason;
  }
}

/** A request names something impossible (bad id, empty name, unknown transition target, ...). */
export class InvalidMetadataRequestError extends MetadataError {
  override readonly name = "InvalidMetadataRequestError";
  readonly retryable = false;
  /** The offending request field, e.g. `assignments[2].followers`. */
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string) {
    super(`invalid ${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

/**
 * etcd refused a leader's write because the key its election created for the term is gone (its lease
 * expired or was revoked, so another replica may lead): this replica must stop acting as leader.
 * Nothing was written. Not a conflict: re-reading and retrying cannot succeed in this term.
 */
export class LeaderFenceError extends MetadataError {
  override readonly name = "LeaderFenceError";
  readonly retryable = false;
  readonly operation: string;
  /** The election key of the term. */
  readonly key: string;
  /** Its create revision when the term began. */
  readonly createRevision: number;

  constructor(operation: string, key: string, createRevision: number) {
    super(
      `etcd refused ${operation}: the leader's election key ${key} (created at revision ${createRevision}) ` +
        "is gone, so this replica no longer leads",
    );
    this.operation = operation;
    this.key = key;
    this.createRevision = createRevision;
  }
}

// ---------------------------------------------------------------------------------------------------
// Conflicts: a guard of a transaction failed. Nothing was written.

/** The state a write was based on changed before the write committed; re-read and retry. */
export class MetadataConflictError extends MetadataError {
  override readonly name: string = "MetadataConflictError";
  readonly retryable = true;
  /** The key whose guard failed. */
  readonly key: string;

  constructor(key: string, detail: string) {
    super(`conflict at ${key}: ${detail}`);
    this.key = key;
  }
}

/** A shard view is not at the version the caller expected (or read). `actualVersion` is current. */
export class ShardVersionConflictError extends MetadataConflictError {
  override readonly name = "ShardVersionConflictError";
  readonly shardId: number;
  readonly expectedVersion: number;
  readonly actualVersion: number;

  constructor(key: string, shardId: number, expectedVersion: number, actualVersion: number) {
    super(key, `shard ${shardId} is at version ${actualVersion}, expected ${expectedVersion}`);
    this.shardId = shardId;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** The cluster view is not at the topology version the caller expected (or read). */
export class ClusterViewConflictError extends MetadataConflictError {
  override readonly name = "ClusterViewConflictError";
  readonly expectedVersion: number;
  readonly actualVersion: number;

  constructor(key: string, expectedVersion: number, actualVersion: number) {
    super(key, `cluster view is at version ${actualVersion}, expected ${expectedVersion}`);
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** The cluster state changed between read and write, or is not the state the caller expected. */
export class ClusterStateConflictError extends MetadataConflictError {
  override readonly name = "ClusterStateConflictError";
  readonly expectedState: ClusterState;
  readonly actualState: ClusterState;

  constructor(key: string, expectedState: ClusterState, actualState: ClusterState) {
    super(key, `cluster state is ${actualState}, expected ${expectedState}`);
    this.expectedState = expectedState;
    this.actualState = actualState;
  }
}

/** A table record (or a table name) changed between read and write. */
export class TableConflictError extends MetadataConflictError {
  override readonly name = "TableConflictError";
  readonly tableId: number;

  constructor(key: string, tableId: number, detail: string) {
    super(key, `table ${tableId}: ${detail}`);
    this.tableId = tableId;
  }
}

/** A procedure is not at the revision the caller expected; `actualRevision` 0 means it is absent. */
export class ProcedureConflictError extends MetadataConflictError {
  override readonly name = "ProcedureConflictError";
  readonly procedureId: number;
  readonly expectedRevision: number;
  readonly actualRevision: number;

  constructor(key: string, procedureId: number, expectedRevision: number, actualRevision: number) {
    super(
      key,
      `procedure ${procedureId} is at revision ${actualRevision}, expected ${expectedRevision}` +
        (actualRevision === 0 ? " (absent)" : ""),
    );
    this.procedureId = procedureId;
    this.expectedRevision = expectedRevision;
    this.actualRevision = actualRevision;
  }
}

/** A procedure could not start: another unfinished procedure holds one of its shards. */
export class ShardLockedError extends MetadataConflictError {
  override readonly name = "ShardLockedError";
  readonly shardId: number;
  readonly holderProcedureId: number;
  readonly holderKind: string;

  constructor(key: string, shardId: number, holderProcedureId: number, holderKind: string) {
    super(key, `shard ${shardId} is held by ${holderKind} procedure ${holderProcedureId}`);
    this.shardId = shardId;
    this.holderProcedureId = holderProcedureId;
    this.holderKind = holderKind;
  }
}

/** Reserving a block of ids kept losing the compare-and-swap on the counter to other allocators. */
export class IdAllocationConflictError extends MetadataConflictError {
  override readonly name = "IdAllocationConflictError";
  readonly attempts: number;

  constructor(key: string, attempts: number) {
    super(key, `could not reserve an id block in ${attempts} attempts`);
    this.attempts = attempts;
  }
}

// ---------------------------------------------------------------------------------------------------
// Missing and existing objects.

export type MetadataResource = "cluster" | "schema" | "table" | "shard" | "procedure";

/** The object a request names does not exist. */
export class MetadataNotFoundError extends MetadataError {
  override readonly name: string = "MetadataNotFoundError";
  readonly retryable = false;
  readonly resource: MetadataResource;
  /** How the request named it: a name, `schema.table`, or an id. */
  readonly identifier: string;

  constructor(resource: MetadataResource, identifier: string) {
    super(`${resource} ${identifier} does not exist`);
    this.resource = resource;
    this.identifier = identifier;
  }
}

export class ClusterNotFoundError extends MetadataNotFoundError {
  override readonly name = "ClusterNotFoundError";
  constructor(clusterRoot: string) {
    super("cluster", clusterRoot);
  }
}

export class SchemaNotFoundError extends MetadataNotFoundError {
  override readonly name = "SchemaNotFoundError";
  constructor(schemaName: string) {
    super("schema", schemaName);
  }
}

export class TableNotFoundError extends MetadataNotFoundError {
  override readonly name = "TableNotFoundError";
  constructor(identifier: string) {
    super("table", identifier);
  }
}

export class ShardNotFoundError extends MetadataNotFoundError {
  override readonly name = "ShardNotFoundError";
  readonly shardId: number;
  constructor(shardId: number) {
    super("shard", String(shardId));
    this.shardId = shardId;
  }
}

export class ProcedureNotFoundError extends MetadataNotFoundError {
  override readonly name = "ProcedureNotFoundError";
  readonly procedureId: number;
  constructor(procedureId: number) {
    super("procedure", String(procedureId));
    this.procedureId = procedureId;
  }
}

/** A table of that name exists already (created by another request). It carries the existing table. */
export class TableAlreadyExistsError extends MetadataError {
  override readonly name = "TableAlreadyExistsError";
  readonly retryable = false;
  readonly table: TableRecord;

  constructor(table: TableRecord) {
    super(
      `table ${table.schemaName}.${table.name} exists already (id ${table.id}, ` +
        `${table.shardId === null ? "partitioned" : `shard ${table.shardId}`})`,
    );
    this.table = table;
  }
}

/** A partitioned table's sub-table would take a name another table has. It carries that table. */
export class SubTableNameTakenError extends MetadataError {
  override readonly name = "SubTableNameTakenError";
  readonly retryable = false;
  /** `schema.table` of the partitioned table being created. */
  readonly partitionedTable: string;
  readonly existing: TableRecord;

  constructor(partitionedTable: string, existing: TableRecord) {
    super(
      `sub-table name ${existing.schemaName}.${existing.name} of partitioned table ${partitionedTable} ` +
        `is taken by table ${existing.id}`,
    );
    this.partitionedTable = partitionedTable;
    this.existing = existing;
  }
}

/** A table named by a move is not in the shard it is moved from. */
export class TableNotInShardError extends MetadataError {
  override readonly name = "TableNotInShardError";
  readonly retryable = false;
  readonly tableId: number;
  readonly shardId: number;

  constructor(tableId: number, shardId: number) {
    super(`table ${tableId} is not in shard ${shardId}`);
    this.tableId = tableId;
    this.shardId = shardId;
  }
}

/** A shard that still holds tables cannot be deleted. */
export class ShardNotEmptyError extends MetadataError {
  override readonly name = "ShardNotEmptyError";
  readonly retryable = false;
  readonly shardId: number;
  readonly tableCount: number;

  constructor(shardId: number, tableCount: number) {
    super(`shard ${shardId} still holds ${tableCount} tables`);
    this.shardId = shardId;
    this.tableCount = tableCount;
  }
}

/** The cluster state machine (Empty -> Prepare -> Stable, Stable -> Prepare) forbids the change. */
export class InvalidClusterStateTransitionError extends MetadataError {
  override readonly name = "InvalidClusterStateTransitionError";
  readonly retryable = false;
  readonly from: ClusterState;
  readonly to: ClusterState;

  constructor(from: ClusterState, to: ClusterState) {
    super(`cluster state cannot change from ${from} to ${to}`);
    this.from = from;
    this.to = to;
  }
}

/** An id counter reached the largest id its kind can hold. */
export class IdSpaceExhaustedError extends MetadataError {
  override readonly name = "IdSpaceExhaustedError";
  readonly retryable = false;
  readonly key: string;
  readonly maxId: number;

  constructor(key: string, maxId: number) {
    super(`id counter ${key} has handed out every id up to ${maxId}`);
    this.key = key;
    this.maxId = maxId;
  }
}
