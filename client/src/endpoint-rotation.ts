/**
 * The configured endpoints in round-robin order, skipping for a while those whose last call failed
 * at the transport level, as long as another one is not in that state.
 */
export class EndpointRotation {
  readonly #endpoints: readonly string[];
  readonly #cooldownMs: number;
  readonly #now: () => number;
  readonly #failedUntil = new Map<string, number>();
  #next = 0;

  constructor(endpoints: readonly string[], cooldownMs: number, now: () => number = Date.now) {
    if (endpoints.length === 0) throw new RangeError("EndpointRotation needs at least one endpoint");
    this.#endpoints = endpoints;
    this.#cooldownMs = cooldownMs;
    this.#now = now;
  }

  /** The next endpoint to send a request that any instance may serve. */
  pick(): string {
    return this.order()[0] as string;
  }

  /** Every endpoint, starting at the next in turn, healthy ones before recently failed ones. */
  order(): string[] {
    const start = this.#next;
    this.#next = (this.#next + 1) % this.#endpoints.length;
    const rotated = this.#endpoints.map(
      (_, i) => this.#endpoints[(start + i) % this.#endpoints.length] as string,
    );
    const now = this.#now();
    const healthy = rotated.filter((e) => (this.#failedUntil.get(e) ?? 0) <= now);
    const failed = rotated.filter((e) => (this.#failedUntil.get(e) ?? 0) > now);
    return [...healthy, ...failed];
  }

  /** Records that a call to `endpoint` failed at the transport level. */
  markFailed(endpoint: string): void {
    if (this.#endpoints.includes(endpoint)) this.#failedUntil.set(endpoint, this.#now() + this.#cooldownMs);
  }

  /** Records that `endpoint` answered. */
  markHealthy(endpoint: string): void {
    this.#failedUntil.delete(endpoint);
  }
}
