import { StatusCode, type storage } from "@horaedb/proto";
import type { ChannelPool } from "./channel-pool.js";
import { formatEndpoint } from "./endpoint.js";
import type { EndpointRotation } from "./endpoint-rotation.js";
import { HoraeDBError, HoraeDBTransportError } from "./errors.js";
import type { RouteCache } from "./route-cache.js";

/** Leader endpoint per table; `undefined` for a table that has no route (it does not exist yet). */
export type Routes = ReadonlyMap<string, string | undefined>;

export interface RouterOptions {
  readonly cache: RouteCache;
  readonly channels: ChannelPool;
  readonly endpoints: EndpointRotation;
  /** Time limit of one Route call, in milliseconds. */
  readonly requestTimeoutMs: number;
}

/**
 * Finds each table's shard leader: from the route cache, otherwise with one Route call for every
 * table missing from it (concurrent lookups of the same table share that call). Route may be asked of
 * any instance; the configured endpoints are tried in turn until one answers.
 */
export class Router {
  readonly #options: RouterOptions;
  readonly #lookups = new Map<string, Promise<string | undefined>>();
  #routeCalls = 0;

  constructor(options: RouterOptions) {
    this.#options = options;
  }

  /** Route calls made so far. */
  get routeCalls(): number {
    return this.#routeCalls;
  }

  /** Leaders of `tables`; rejects with the last endpoint's error when no endpoint answers. */
  async resolve(database: string, tables: Iterable<string>, deadline: number): Promise<Routes> {
    const routes = new Map<string, string | undefined>();
    const waiting: Array<Promise<void>> = [];
    const missing: string[] = [];
    for (const table of new Set(tables)) {
      const cached = this.#options.cache.get(database, table);
      if (cached !== undefined) {
        routes.set(table, cached.leader);
        continue;
      }
      const lookup = this.#lookups.get(lookupKey(database, table));
      if (lookup !== undefined) waiting.push(lookup.then((leader) => void routes.set(table, leader)));
      else missing.push(table);
    }
    if (missing.length > 0) {
      const call = this.#lookUp(database, missing, deadline);
      missing.forEach((table) => {
        const key = lookupKey(database, table);
        const lookup = call.then((found) => found.get(table));
        this.#lookups.set(key, lookup);
        // The shared lookup ends either way; failures reach callers through `waiting`.
        void lookup.then(
          () => this.#lookups.delete(key),
          () => this.#lookups.delete(key),
        );
        waiting.push(lookup.then((leader) => void routes.set(table, leader)));
      });
    }
    await Promise.all(waiting);
    return routes;
  }

  /** Drops a table's route after a response said it is stale. */
  invalidate(database: string, table: string): void {
    this.#options.cache.invalidate(database, table);
  }

  /** Drops the routes led by an endpoint that stopped answering. */
  invalidateLeader(endpoint: string): void {
    this.#options.cache.invalidateLeader(endpoint);
  }

  async #lookUp(database: string, tables: string[], deadline: number): Promise<Routes> {
    const { channels, endpoints, cache, requestTimeoutMs } = this.#options;
    let lastError: HoraeDBError | undefined;
    for (const endpoint of endpoints.order()) {
      if (Date.now() >= deadline) break;
      this.#routeCalls++;
      let response: storage.RouteResponse__Output;
      try {
        response = await channels.unary(
          endpoint,
          "Route",
          Math.min(deadline, Date.now() + requestTimeoutMs),
          { context: { database }, tables },
        );
      } catch (error) {
        if (!(error instanceof HoraeDBTransportError)) throw error;
        endpoints.markFailed(endpoint);
        lastError = error;
        continue;
      }
      endpoints.markHealthy(endpoint);
      const header = response.header;
      if (header !== null && header.code !== StatusCode.STATUS_CODE_OK) {
        lastError = new HoraeDBError(header.code, `Route on ${endpoint} failed: ${header.message}`);
        if (lastError.retryable) continue;
        throw lastError;
      }
      const clusterVersion = BigInt(response.clusterVersion);
      const found = new Map<string, string | undefined>(tables.map((t) => [t, undefined]));
      for (const route of response.routes) {
        if (route.leader === null || !found.has(route.table)) continue;
        const leader = formatEndpoint(route.leader.host, route.leader.port);
        cache.put(database, route.table, leader, clusterVersion);
        found.set(route.table, leader);
      }
      return found;
    }
    throw (
      lastError ??
      new HoraeDBError(
        StatusCode.STATUS_CODE_DEADLINE_EXCEEDED,
        "the deadline passed before Route was answered",
        {
          retryable: true,
        },
      )
    );
  }
}

function lookupKey(database: string, table: string): string {
  return `${database}\u0000${table}`;
}
