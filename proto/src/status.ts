import { StatusCode as GeneratedStatusCode } from "./generated/horaedb/common/v1/StatusCode.js";

/**
 * `horaedb.common.v1.StatusCode`: each key maps to itself, the form decoded messages carry, e.g.
 * `StatusCode.STATUS_CODE_ROUTE_STALE === "STATUS_CODE_ROUTE_STALE"`.
 */
export const StatusCode = GeneratedStatusCode;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

/** Codes after which the same request may succeed if retried (after `retry_after_ms`, if set). */
export const RETRYABLE_STATUS_CODES: ReadonlySet<StatusCode> = new Set<StatusCode>([
  StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED,
  StatusCode.STATUS_CODE_UNAVAILABLE,
  StatusCode.STATUS_CODE_ROUTE_STALE,
]);

/**
 * Whether a response with this code may succeed when retried. An absent code, or one this build does
 * not know (a newer server's), is not retryable.
 */
export function isRetryableStatus(code: StatusCode | null | undefined): boolean {
  return code != null && RETRYABLE_STATUS_CODES.has(code);
}
