/**
 * Errors of horaemeta's own (outside the metadata store). Each maps to one status code of the
 * MetaService's ResponseHeader (see `service/response-status.ts`) and says whether a retry can help.
 */
import { StatusCode } from "@horaedb/proto";

export abstract class HoraeMetaError extends Error {
  /** The status a MetaService response carries for this error. */
  abstract readonly code: StatusCode;
  /** For retryable errors: how long the caller should wait before retrying; 0 means no advice. */
  readonly retryAfterMs: number = 0;
}

/** A request field is missing or malformed. */
export class InvalidRequestError extends HoraeMetaError {
  override readonly name = "InvalidRequestError";
  readonly code = StatusCode.STATUS_CODE_INVALID_ARGUMENT;
  /** The offending field, e.g. `table_schema.columns[2].data_type`. */
  readonly field: string;
  readonly reason: string;

  constructor(field: string, reason: string) {
    super(`invalid ${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

/** The request names another cluster than the one this horaemeta manages. */
export class ClusterMismatchError extends HoraeMetaError {
  override readonly name = "ClusterMismatchError";
  readonly code = StatusCode.STATUS_CODE_FAILED_PRECONDITION;
  readonly expected: string;
  readonly actual: string;

  constructor(expected: string, actual: string) {
    super(`this horaemeta manages cluster ${expected}, the request is for cluster ${actual}`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** A form of request that is valid but not implemented yet. */
export class UnsupportedRequestError extends HoraeMetaError {
  override readonly name = "UnsupportedRequestError";
  readonly code = StatusCode.STATUS_CODE_FAILED_PRECONDITION;
  readonly feature: string;

  constructor(feature: string) {
    super(`${feature} not supported yet`);
    this.feature = feature;
  }
}

/**
 * A sub-table of a partitioned table was named where only its partitioned table may be: sub-tables are
 * created and dropped with their partitioned table, never on their own.
 */
export class SubTableOperationError extends HoraeMetaError {
  override readonly name = "SubTableOperationError";
  readonly code = StatusCode.STATUS_CODE_FAILED_PRECONDITION;
  /** `schema.table` of the sub-table named. */
  readonly subTable: string;
  /** `schema.table` of its partitioned table. */
  readonly partitionedTable: string;

  constructor(operation: string, subTable: string, partitionedTable: string) {
    super(
      `cannot ${operation} ${subTable} on its own: it is a sub-table of partitioned table ` +
        `${partitionedTable}; ${operation} ${partitionedTable} instead`,
    );
    this.subTable = subTable;
    this.partitionedTable = partitionedTable;
  }
}

/** The cluster cannot serve the request yet, e.g. no shard has a leader to place a table on. */
export class ClusterNotReadyError extends HoraeMetaError {
  override readonly name = "ClusterNotReadyError";
  readonly code = StatusCode.STATUS_CODE_UNAVAILABLE;
  override readonly retryAfterMs = 1_000;
  readonly reason: string;

  constructor(reason: string) {
    super(`the cluster is not ready: ${reason}`);
    this.reason = reason;
  }
}

/**
 * This replica is not (or no longer) the horaemeta leader, so it must not act as one. Raised by the
 * fence before every write a leader makes, and for calls that cannot be forwarded.
 */
export class NotLeaderError extends HoraeMetaError {
  override readonly name = "NotLeaderError";
  readonly code = StatusCode.STATUS_CODE_UNAVAILABLE;
  override readonly retryAfterMs = 200;
  /** This replica's gRPC endpoint. */
  readonly replica: string;
  readonly reason: string;

  constructor(replica: string, reason: string) {
    super(`horaemeta ${replica} is not the leader: ${reason}`);
    this.replica = replica;
    this.reason = reason;
  }
}

/** No horaemeta replica is leader right now (an election is under way), or etcd cannot tell. */
export class NoLeaderError extends HoraeMetaError {
  override readonly name = "NoLeaderError";
  readonly code = StatusCode.STATUS_CODE_UNAVAILABLE;
  override readonly retryAfterMs = 500;
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`no horaemeta leader is known: ${reason}`, options);
    this.reason = reason;
  }
}

/** A call forwarded to the leader failed on the way (transport, deadline), not in the leader. */
export class ForwardingError extends HoraeMetaError {
  override readonly name = "ForwardingError";
  readonly code = StatusCode.STATUS_CODE_UNAVAILABLE;
  override readonly retryAfterMs = 200;
  readonly leader: string;
  readonly method: string;

  constructor(leader: string, method: string, detail: string, options?: { cause?: unknown }) {
    super(`forwarding ${method} to the leader ${leader} failed: ${detail}`, options);
    this.leader = leader;
    this.method = method;
  }
}
