import { setTimeout as delay } from "node:timers/promises";
import { HoraeDBClosedError } from "./errors.js";

/** How failed calls are retried. */
export interface RetryPolicy {
  /** Sends of the same rows (or statement), the first included. Default 10. */
  readonly maxAttempts: number;
  /** Upper bound of the first backoff, in milliseconds. Default 50. */
  readonly initialBackoffMs: number;
  /** Upper bound of any backoff, in milliseconds. Default 5,000. */
  readonly maxBackoffMs: number;
}

/** The retry bounds a client takes for those its `retry` option leaves out. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 10,
  initialBackoffMs: 50,
  maxBackoffMs: 5_000,
});

/**
 * Wait before attempt `attempt + 1` after `attempt` failed (attempt >= 1): "full jitter", uniform in
 * [0, min(maxBackoff, initialBackoff * 2^(attempt-1))], so clients that failed together spread out.
 * A server's `retry_after_ms` advice is a floor.
 */
export function backoffMs(
  policy: RetryPolicy,
  attempt: number,
  retryAfterMs = 0,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(retryAfterMs, Math.floor(random() * ceiling));
}

/** Sleeps `ms`; rejects with HoraeDBClosedError if `signal` aborts first. */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new HoraeDBClosedError("client");
  if (ms <= 0) return;
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if (signal.aborted) throw new HoraeDBClosedError("client");
    throw error;
  }
}
