import { StatusCode } from "@horaedb/proto";
import { TableError, WriteError } from "../engine/index.js";
import { SqlExecutionError } from "../interpreters/index.js";
import { QueryExecutionError, QueryPlanError } from "../query/index.js";
import { SqlSyntaxError } from "../sql/index.js";
import { SchemaError } from "../table/errors.js";
import { RequestError } from "./request-error.js";

export interface StatusOf {
  readonly code: StatusCode;
  readonly message: string;
  readonly retryAfterMs: number;
  /** True when the error is the server's fault (to be logged), not the request's. */
  readonly internal: boolean;
}

/** Suggested wait before retrying a write refused for memory pressure. */
const RESOURCE_EXHAUSTED_RETRY_MS = 200;

/** The response status for an error raised while serving a request. */
export function statusOf(error: unknown): StatusOf {
  const ok = (code: StatusCode, message: string, retryAfterMs = 0): StatusOf => ({
    code,
    message,
    retryAfterMs,
    internal: false,
  });
  if (error instanceof RequestError) return ok(error.status, error.message, error.retryAfterMs);
  if (error instanceof WriteError) {
    switch (error.kind) {
      case "invalid_argument":
        return ok(StatusCode.STATUS_CODE_INVALID_ARGUMENT, error.message);
      case "not_found":
        return ok(StatusCode.STATUS_CODE_NOT_FOUND, error.message);
      case "resource_exhausted":
        return ok(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED, error.message, RESOURCE_EXHAUSTED_RETRY_MS);
    }
  }
  if (error instanceof TableError) {
    const code = {
      invalid_argument: StatusCode.STATUS_CODE_INVALID_ARGUMENT,
      not_found: StatusCode.STATUS_CODE_NOT_FOUND,
      already_exists: StatusCode.STATUS_CODE_ALREADY_EXISTS,
    }[error.kind];
    return ok(code, error.message);
  }
  if (error instanceof SchemaError) return ok(StatusCode.STATUS_CODE_INVALID_ARGUMENT, error.message);
  if (error instanceof SqlSyntaxError) return ok(StatusCode.STATUS_CODE_INVALID_ARGUMENT, error.message);
  if (error instanceof QueryPlanError) {
    const code =
      error.code === "unknownTable"
        ? StatusCode.STATUS_CODE_NOT_FOUND
        : StatusCode.STATUS_CODE_INVALID_ARGUMENT;
    return ok(code, error.message);
  }
  if (error instanceof QueryExecutionError) {
    switch (error.code) {
      case "timeout":
        return ok(StatusCode.STATUS_CODE_DEADLINE_EXCEEDED, error.message);
      case "cancelled":
        return ok(StatusCode.STATUS_CODE_CANCELLED, error.message);
      case "memoryLimitExceeded":
        return ok(StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED, error.message);
      default:
        return ok(StatusCode.STATUS_CODE_INVALID_ARGUMENT, error.message);
    }
  }
  if (error instanceof SqlExecutionError) {
    const code = {
      invalid_argument: StatusCode.STATUS_CODE_INVALID_ARGUMENT,
      not_found: StatusCode.STATUS_CODE_NOT_FOUND,
      already_exists: StatusCode.STATUS_CODE_ALREADY_EXISTS,
    }[error.kind];
    return ok(code, error.message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: StatusCode.STATUS_CODE_INTERNAL,
    message: `internal error: ${message}`,
    retryAfterMs: 0,
    internal: true,
  };
}
