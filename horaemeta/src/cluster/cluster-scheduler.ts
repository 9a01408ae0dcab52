/**
 * The cluster lifecycle, run by the horaemeta leader for as long as its term lasts:
 * - creates the cluster from the configuration if it does not exist (idempotent; an existing
 *   cluster keeps its stored settings);
 * - Empty -> Prepare -> Stable: once `minNodeCount` nodes are online, places every shard without a
 *   leader (shard-placement.ts) in guarded assignShards calls, then marks the cluster Stable. A
 *   leader that dies half-way leaves state Prepare and unplaced shards, which the next one places.
 *
 * The placement is metadata only: telling the instances to open their shards is the job of the
 * procedures (design.md section 6), not of this scheduler. Shards of nodes that went offline are
 * not moved here either (failover is a procedure too).
 *
 * Every write is preceded by `term.assertActive()`, goes through the term's fenced store (refused by
 * etcd once the term's election key is gone), and is a compare-and-swap on what was read.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@horaedb/common";
import type { LeaderTerm } from "../election/leader-term.js";
import { NotLeaderError } from "../errors.js";
import {
  MAX_ASSIGNMENTS_PER_CALL,
  type ClusterSettings,
  type CreateClusterRequest,
  type MetadataStore,
  type ShardAssignment,
} from "../metadata/index.js";
import { settingsDifferences } from "./cluster-settings.js";
import { placeUnassignedShards } from "./shard-placement.js";

export interface ClusterSchedulerOptions {
  readonly store: MetadataStore;
  /** The settings to create the cluster with when it does not exist. */
  readonly settings: CreateClusterRequest;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Runs after every pass that did not fail (the shard schedulers), with the cluster's settings. */
  readonly afterPass?: (term: LeaderTerm, settings: ClusterSettings) => Promise<void>;
}

/** What one pass over the cluster did. */
export type ReconcileOutcome =
  | { readonly action: "none"; readonly state: string }
  | { readonly action: "waiting_for_nodes"; readonly online: number; readonly required: number }
  | {
      readonly action: "placed";
      readonly assignments: readonly ShardAssignment[];
      readonly clusterVersion: number;
    }
  | { readonly action: "marked_stable" };

export class ClusterScheduler {
  readonly #options: ClusterSchedulerOptions;
  #settings: ClusterSettings | undefined;
  /** Set by wake() during a pass, so the pass after it starts at once. */
  #wakeRequested = false;
  /** Ends the wait between passes early. */
  #wakeWaiting: (() => void) | undefined;
  #lastWaitingFor: number | undefined;

  constructor(options: ClusterSchedulerOptions) {
    this.#options = options;
  }

  /** Runs passes every interval (and on wake()) until the term ends. */
  async run(term: LeaderTerm): Promise<void> {
    const logger = this.#options.logger;
    while (!term.signal.aborted) {
      try {
        await this.reconcile(term);
        if (this.#options.afterPass !== undefined && this.#settings !== undefined) {
          await this.#options.afterPass(term, this.#settings);
        }
      } catch (error) {
        if (error instanceof NotLeaderError || term.signal.aborted) break;
        logger.warn(
          { err: error },
          `scheduling pass failed, retrying: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      await this.#nextPass(term.signal);
    }
  }

  /** Asks for a pass now, e.g. because a node sent its first heartbeat. */
  wake(): void {
    this.#wakeRequested = true;
    this.#wakeWaiting?.();
  }

  /** One pass: create the cluster if needed, then move it towards Stable. */
  async reconcile(term: LeaderTerm): Promise<ReconcileOutcome> {
    const { logger } = this.#options;
    const store = term.fenced(this.#options.store);
    const settings = await this.#ensureCluster(term);
    const [state, view, nodes] = await Promise.all([
      store.cluster.getState(),
      store.cluster.getView(),
      store.nodes.list(),
    ]);
    const unplaced = view.shards.filter((shard) => shard.leader === null);
    if (unplaced.length === 0) {
      if (state.state !== "Prepare") return { action: "none", state: state.state };
      term.assertActive();
      await store.cluster.setState("Stable", { expected: "Prepare" });
      logger.info({ clusterVersion: view.version }, "every shard has a leader; cluster is Stable");
      return { action: "marked_stable" };
    }

    const online = nodes.filter((node) => node.state === "online");
    if (online.length < Math.max(1, settings.minNodeCount)) {
      const required = Math.max(1, settings.minNodeCount);
      if (this.#lastWaitingFor !== online.length) {
        logger.info(
          { online: online.length, required, unplacedShards: unplaced.length },
          "waiting for nodes",
        );
        this.#lastWaitingFor = online.length;
      }
      return { action: "waiting_for_nodes", online: online.length, required };
    }
    this.#lastWaitingFor = undefined;

    if (state.state !== "Prepare") {
      term.assertActive();
      await store.cluster.setState("Prepare", { expected: state.state });
    }
    const assignments = placeUnassignedShards(
      view,
      online.map((node) => ({ name: node.name, zone: node.zone })),
      settings.followersPerShard,
    );
    let version = view.version;
    for (let first = 0; first < assignments.length; first += MAX_ASSIGNMENTS_PER_CALL) {
      term.assertActive();
      const result = await store.cluster.assignShards({
        assignments: assignments.slice(first, first + MAX_ASSIGNMENTS_PER_CALL),
        expectedVersion: version,
      });
      version = result.view.version;
    }
    term.assertActive();
    await store.cluster.setState("Stable", { expected: "Prepare" });
    const wantedFollowers = settings.followersPerShard;
    const placedFollowers = Math.min(wantedFollowers, online.length - 1);
    logger.info(
      {
        shards: assignments.length,
        nodes: online.map((node) => node.name),
        followersPerShard: placedFollowers,
        clusterVersion: version,
      },
      placedFollowers < wantedFollowers
        ? `shards placed with ${placedFollowers} of ${wantedFollowers} followers each (not enough nodes online); cluster is Stable`
        : "shards placed; cluster is Stable",
    );
    return { action: "placed", assignments, clusterVersion: version };
  }

  /** The cluster's stored settings, creating the cluster first if it does not exist. */
  async #ensureCluster(term: LeaderTerm): Promise<ClusterSettings> {
    if (this.#settings !== undefined) return this.#settings;
    const { settings: requested, logger } = this.#options;
    const store = term.fenced(this.#options.store);
    term.assertActive();
    const { settings, created } = await store.cluster.createCluster(requested);
    if (created) {
      logger.info({ settings }, "created the cluster");
    } else {
      const differences = settingsDifferences(settings, requested);
      if (Object.keys(differences).length > 0) {
        logger.warn(
          { differences },
          "the stored cluster settings differ from the configuration; the stored ones apply",
        );
      }
    }
    this.#settings = settings;
    return settings;
  }

  async #nextPass(signal: AbortSignal): Promise<void> {
    if (this.#wakeRequested) {
      this.#wakeRequested = false;
      return;
    }
    const woken = new AbortController();
    this.#wakeWaiting = () => woken.abort();
    await sleep(this.#options.intervalMs, undefined, {
      signal: AbortSignal.any([signal, woken.signal]),
    }).catch(() => undefined);
    this.#wakeWaiting = undefined;
    this.#wakeRequested = false;
  }
}
