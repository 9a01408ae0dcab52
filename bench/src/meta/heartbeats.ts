/**
 * Heartbeat throughput: every instance sends heartbeats back to back (a closed loop per node, so as
 * many heartbeats are in flight as there are nodes) for a fixed time, instead of every second.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { SimulatedInstance } from "@horaedb/horaemeta/testing";

/** Pause after a failed heartbeat, so that a node that fails at once does not spin. */
const FAILURE_PAUSE_MS = 100;

export interface HeartbeatResult {
  /** Heartbeats horaemeta accepted. */
  readonly accepted: number;
  /** Heartbeats that failed (refused, or no answer within the instance's deadline). */
  readonly failed: number;
  /** From the first heartbeat sent to the last answer. */
  readonly elapsedMs: number;
  /** Latency of each accepted heartbeat. */
  readonly latenciesMs: readonly number[];
  /** The first failure's message, to say why. */
  readonly firstFailure: string | undefined;
}

/**
 * Stops the instances' background heartbeats, drives closed loops for `durationMs`, then resumes
 * the background heartbeats. A node's lease stays renewed throughout: the loops start as soon as
 * the background heartbeats stopped, and their heartbeats are far more frequent.
 */
export async function measureHeartbeats(
  instances: readonly SimulatedInstance[],
  durationMs: number,
): Promise<HeartbeatResult> {
  await Promise.all(instances.map((instance) => instance.stopHeartbeats()));
  const latenciesMs: number[] = [];
  let failed = 0;
  let firstFailure: string | undefined;
  const started = performance.now();
  const end = started + durationMs;
  try {
    await Promise.all(
      instances.map(async (instance) => {
        while (performance.now() < end) {
          const sent = performance.now();
          try {
            await instance.heartbeat();
            latenciesMs.push(performance.now() - sent);
          } catch (error) {
            failed++;
            firstFailure ??= error instanceof Error ? error.message : String(error);
            await sleep(FAILURE_PAUSE_MS);
          }
        }
      }),
    );
  } finally {
    for (const instance of instances) instance.startHeartbeats();
  }
  return {
    accepted: latenciesMs.length,
    failed,
    elapsedMs: performance.now() - started,
    latenciesMs,
    firstFailure,
  };
}
