/** Where a table's writes go, as last learned from Route. */
export interface CachedRoute {
  /** `host:port` of the leader of the table's shard. */
  readonly leader: string;
  /** Cluster view version the route was taken from. */
  readonly clusterVersion: bigint;
  /** Clock time (ms) after which the route is looked up again. */
  readonly expiresAt: number;
}

/**
 * Routes per (database, table), each valid for a fixed time. A route is dropped when a response says
 * it is stale; a route from an older cluster view never replaces a live one from a newer view.
 */
export class RouteCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #routes = new Map<string, CachedRoute>();
  #newestClusterVersion = 0n;

  constructor(ttlMs: number, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** The newest cluster view version any Route answer carried. */
  get newestClusterVersion(): bigint {
    return this.#newestClusterVersion;
  }

  /** Number of routes held (live or expired). */
  get size(): number {
    return this.#routes.size;
  }

  /** The live route of a table, if any. */
  get(database: string, table: string): CachedRoute | undefined {
    const key = keyOf(database, table);
    const route = this.#routes.get(key);
    if (route === undefined) return undefined;
    if (route.expiresAt <= this.#now()) {
      this.#routes.delete(key);
      return undefined;
    }
    return route;
  }

  /** Records a route from a Route answer taken from cluster view `clusterVersion`. */
  put(database: string, table: string, leader: string, clusterVersion: bigint): void {
    if (clusterVersion > this.#newestClusterVersion) this.#newestClusterVersion = clusterVersion;
    const live = this.get(database, table);
    if (live !== undefined && live.clusterVersion > clusterVersion) return;
    this.#routes.set(keyOf(database, table), {
      leader,
      clusterVersion,
      expiresAt: this.#now() + this.#ttlMs,
    });
  }

  /** Forgets a table's route, so the next request looks it up again. */
  invalidate(database: string, table: string): void {
    this.#routes.delete(keyOf(database, table));
  }

  /** Forgets every route led by `endpoint` (e.g. after it stopped answering). */
  invalidateLeader(endpoint: string): void {
    for (const [key, route] of this.#routes) if (route.leader === endpoint) this.#routes.delete(key);
  }
}

function keyOf(database: string, table: string): string {
  // NUL cannot occur in a name the server accepts, so the key is unambiguous.
  return `${database}\u0000${table}`;
}
