/** Where a server process is in its life; `/health` reports it. */
export type ServingState = "starting" | "serving" | "shutting_down";

/**
 * The serving state shared by a process's servers. Shutdown flips it first, so load balancers and
 * probes see 503 while in-flight work drains.
 */
export class HealthState {
  #state: ServingState = "starting";

  get state(): ServingState {
    return this.#state;
  }

  markServing(): void {
    if (this.#state === "starting") this.#state = "serving";
  }

  beginShutdown(): void {
    this.#state = "shutting_down";
  }
}
