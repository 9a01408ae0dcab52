import { setTimeout as sleep } from "node:timers/promises";
import { MetadataConflictError } from "./errors.js";

export interface RetryOnConflictOptions {
  /** Calls in all, the first included. Default 5. */
  readonly attempts?: number;
  /** Upper bound of the random pause before a retry, doubled per retry. Default 10 ms. */
  readonly backoffMs?: number;
}

/**
 * Runs `operation` again while it fails with a MetadataConflictError: the operation re-reads what it
 * depends on, so a retry decides on fresh state. Other errors, and the last conflict, are thrown.
 */
export async function retryOnConflict<T>(
  operation: () => Promise<T>,
  options: RetryOnConflictOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof MetadataConflictError) || attempt >= attempts) throw error;
      // Random pauses keep competing writers from colliding again in lockstep.
      await sleep(Math.random() * backoffMs * 2 ** (attempt - 1));
    }
  }
}
