/**
 * The ResponseHeader a MetaService call answers with when it fails: every error the service, the
 * election or the metadata store can raise maps to one status code. Retryable codes carry a
 * `retryAfterMs` hint.
 */
import type { common } from "@horaedb/proto";
import { StatusCode } from "@horaedb/proto";
import { HoraeMetaError } from "../errors.js";
import { EventDeadlineError, EventRefusedError } from "../procedure/event-sender.js";
import { ShardBusyError } from "../procedure/procedure-manager.js";
import {
  ClusterNotFoundError,
  InvalidClusterStateTransitionError,
  InvalidMetadataRequestError,
  LeaderFenceError,
  MetadataConflictError,
  MetadataError,
  MetadataNotFoundError,
  MetadataTimeoutError,
  MetadataUnavailableError,
  ShardNotEmptyError,
  SubTableNameTakenError,
  TableAlreadyExistsError,
  TableNotInShardError,
} from "../metadata/index.js";

export interface FailureStatus {
  readonly code: StatusCode;
  readonly message: string;
  readonly retryAfterMs: number;
  /** Whether the failure is a bug or an unexpected state (worth an error log line). */
  readonly unexpected: boolean;
}

/** Retry hint for etcd being slow or unreachable, and for conflicts that outlasted their retries. */
const METADATA_RETRY_AFTER_MS = 200;

export function failureStatus(error: unknown): FailureStatus {
  const message = error instanceof Error ? error.message : String(error);
  const status = (code: StatusCode, retryAfterMs = 0, unexpected = false): FailureStatus => ({
    code,
    message,
    retryAfterMs,
    unexpected,
  });
  if (error instanceof HoraeMetaError) return status(error.code, error.retryAfterMs);
  // A procedure's instance refused: its own status passes through (e.g. INVALID_ARGUMENT for an
  // option the engine rejects); a silent or busy instance, or a busy shard, is worth a retry.
  if (error instanceof EventRefusedError) {
    return status(error.code === StatusCode.STATUS_CODE_OK ? StatusCode.STATUS_CODE_INTERNAL : error.code);
  }
  if (error instanceof EventDeadlineError) return status(StatusCode.STATUS_CODE_UNAVAILABLE, 1_000);
  // The term ended under the call (etcd refused its write): the next leader answers a retry.
  if (error instanceof LeaderFenceError) return status(StatusCode.STATUS_CODE_UNAVAILABLE, 200);
  if (error instanceof ShardBusyError) return status(StatusCode.STATUS_CODE_UNAVAILABLE, 500);
  if (error instanceof ClusterNotFoundError) {
    // The leader creates the cluster as soon as it is elected; until then, ask to come back.
    return status(StatusCode.STATUS_CODE_UNAVAILABLE, 1_000);
  }
  if (error instanceof MetadataNotFoundError) return status(StatusCode.STATUS_CODE_NOT_FOUND);
  if (error instanceof TableAlreadyExistsError) return status(StatusCode.STATUS_CODE_ALREADY_EXISTS);
  if (error instanceof InvalidMetadataRequestError) return status(StatusCode.STATUS_CODE_INVALID_ARGUMENT);
  if (
    error instanceof SubTableNameTakenError ||
    error instanceof TableNotInShardError ||
    error instanceof ShardNotEmptyError ||
    error instanceof InvalidClusterStateTransitionError
  ) {
    return status(StatusCode.STATUS_CODE_FAILED_PRECONDITION);
  }
  if (
    error instanceof MetadataTimeoutError ||
    error instanceof MetadataUnavailableError ||
    error instanceof MetadataConflictError
  ) {
    return status(StatusCode.STATUS_CODE_UNAVAILABLE, METADATA_RETRY_AFTER_MS);
  }
  if (error instanceof MetadataError && error.retryable) {
    return status(StatusCode.STATUS_CODE_UNAVAILABLE, METADATA_RETRY_AFTER_MS);
  }
  return status(StatusCode.STATUS_CODE_INTERNAL, 0, true);
}

export function failureHeader(status: FailureStatus): common.ResponseHeader {
  return { code: status.code, message: status.message, retryAfterMs: status.retryAfterMs };
}

export const OK_HEADER: common.ResponseHeader = Object.freeze({
  code: StatusCode.STATUS_CODE_OK,
  message: "",
  retryAfterMs: 0,
});
