/** The cluster itself: its settings, its state, and the placement of its shards (the cluster view). */
import { encodeRecord } from "./codec.js";
import { recordAt, type StoreContext } from "./context.js";
import { MAX_TXN_GUARDS, type KvGuard, type KvWrite } from "./etcd-kv.js";
import {
  ClusterNotFoundError,
  ClusterStateConflictError,
  ClusterViewConflictError,
  InvalidClusterStateTransitionError,
  InvalidMetadataRequestError,
  MetadataConflictError,
  MetadataCorruptionError,
  ShardNotFoundError,
  ShardVersionConflictError,
} from "./errors.js";
import { MAX_NARROW_ID } from "./keys.js";
import type {
  ClusterSettings,
  ClusterState,
  ClusterStateRecord,
  ClusterView,
  ScheduleRecord,
  ShardAssignment,
  ShardView,
  TopologyType,
} from "./records.js";
import { requireDistinct, requireInteger, requireName } from "./validation.js";

/** Shards one assignShards call places at most: a guard each and one for the cluster view. */
export const MAX_ASSIGNMENTS_PER_CALL = MAX_TXN_GUARDS - 1;

/** etcd grants no lease shorter than 2 s with its default election timeout. */
export const MIN_LEASE_TTL_MS = 2_000;

export const DEFAULT_CLUSTER_SETTINGS = {
  shardCount: 8,
  followersPerShard: 0,
  topologyType: "static",
  minNodeCount: 1,
  nodeLeaseTtlMs: 10_000,
  metaLeaderLeaseTtlMs: 10_000,
} as const satisfies Omit<ClusterSettings, "name" | "createdAtMs">;

export type CreateClusterRequest = Partial<Omit<ClusterSettings, "name" | "createdAtMs">>;

export interface CreateClusterResult {
  /** The stored settings: those of this request if it created the cluster, else the existing ones. */
  readonly settings: ClusterSettings;
  readonly created: boolean;
}

export interface AssignShardsRequest {
  /** New placements; shards not named keep theirs. */
  readonly assignments: readonly ShardAssignment[];
  /** Refuse with ClusterViewConflictError unless the view is at this topology version. */
  readonly expectedVersion?: number;
}

export interface AssignShardsResult {
  readonly view: ClusterView;
  /** The shard views of the shards whose placement changed, each one version higher. */
  readonly changedShards: readonly ShardView[];
}

/** Allowed cluster state changes; setting the current state again is a no-op. */
const STATE_TRANSITIONS: Readonly<Record<ClusterState, readonly ClusterState[]>> = {
  Empty: ["Prepare"],
  Prepare: ["Stable"],
  Stable: ["Prepare"],
};

export class ClusterStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Creates the cluster: settings, state Empty, shards 0 .. shardCount-1 (empty, version 1, not
   * placed) and the cluster view (version 1). Idempotent: when the cluster exists, answers its
   * stored settings with `created: false`, whatever this request asked for.
   */
  async createCluster(request: CreateClusterRequest = {}): Promise<CreateClusterResult> {
    const { kv, keys } = this.#ctx;
    const operation = "create cluster";
    const existing = await this.#readSettings(operation);
    if (existing !== undefined) return { settings: existing, created: false };

    const settings = this.#settingsFor(request);
    // Shard views first, in transactions of at most MAX_TXN_GUARDS keys; the settings key, written
    // last in one transaction with the rest, is what makes the cluster exist. Concurrent creators
    // write identical empty views, so each only fills in the ones still missing.
    for (let first = 0; first < settings.shardCount; first += MAX_TXN_GUARDS) {
      const shardIds = range(first, Math.min(first + MAX_TXN_GUARDS, settings.shardCount));
      await this.#createMissingShardViews(operation, shardIds);
    }

    const view: ClusterView = {
      version: 1,
      shards: range(0, settings.shardCount).map((shardId) => ({ shardId, leader: null, followers: [] })),
      updatedAtMs: settings.createdAtMs,
    };
    const created = [
      keys.clusterSettings(),
      keys.clusterState(),
      keys.clusterView(),
      keys.idCounter("shard"),
    ];
    const outcome = await kv.commit(
      operation,
      created.map((key) => ({ key, modRevision: 0 })),
      [
        { op: "put", key: keys.clusterSettings(), value: encodeRecord("cluster_settings", settings) },
        {
          op: "put",
          key: keys.clusterState(),
          value: encodeRecord("cluster_state", { state: "Empty", updatedAtMs: settings.createdAtMs }),
        },
        { op: "put", key: keys.clusterView(), value: encodeRecord("cluster_view", view) },
        {
          op: "put",
          key: keys.idCounter("shard"),
          value: encodeRecord("id_counter", { next: settings.shardCount }),
        },
      ],
      created,
    );
    if (outcome.succeeded) return { settings, created: true };
    const winner = recordAt(outcome.current, "cluster_settings", keys.clusterSettings());
    if (winner !== undefined) return { settings: winner, created: false };
    const stray = created.find((key) => outcome.current.get(key) !== undefined) ?? keys.clusterSettings();
    throw new MetadataCorruptionError(stray, "exists although the cluster settings do not");
  }

  async getSettings(): Promise<ClusterSettings> {
    const settings = await this.#readSettings("get cluster settings");
    if (settings === undefined) throw new ClusterNotFoundError(this.#ctx.keys.root);
    return settings;
  }

  async getState(): Promise<ClusterStateRecord> {
    const key = this.#ctx.keys.clusterState();
    const state = recordAt(await this.#ctx.kv.read("get cluster state", [key]), "cluster_state", key);
    if (state === undefined) throw new ClusterNotFoundError(this.#ctx.keys.root);
    return state;
  }

  /**
   * Moves the cluster to `to` (Empty -> Prepare -> Stable, Stable -> Prepare). With `expected`, only
   * from that state. Setting the current state again answers it unchanged.
   */
  async setState(to: ClusterState, options: { expected?: ClusterState } = {}): Promise<ClusterStateRecord> {
    const { kv, keys, now } = this.#ctx;
    const operation = "set cluster state";
    const key = keys.clusterState();
    if (!Object.hasOwn(STATE_TRANSITIONS, to)) {
      throw new InvalidMetadataRequestError("state", `unknown state ${String(to)}`);
    }
    const snapshot = await kv.read(operation, [key]);
    const current = recordAt(snapshot, "cluster_state", key);
    if (current === undefined) throw new ClusterNotFoundError(keys.root);
    if (current.state === to) return current;
    if (options.expected !== undefined && options.expected !== current.state) {
      throw new ClusterStateConflictError(key, options.expected, current.state);
    }
    if (!STATE_TRANSITIONS[current.state].includes(to)) {
      throw new InvalidClusterStateTransitionError(current.state, to);
    }
    const next: ClusterStateRecord = { state: to, updatedAtMs: now() };
    const outcome = await kv.commit(
      operation,
      [{ key, modRevision: snapshot.modRevision(key) }],
      [{ op: "put", key, value: encodeRecord("cluster_state", next) }],
      [key],
    );
    if (outcome.succeeded) return next;
    const actual = recordAt(outcome.current, "cluster_state", key);
    if (actual === undefined) throw new ClusterNotFoundError(keys.root);
    throw new ClusterStateConflictError(key, current.state, actual.state);
  }

  /** Whether the schedulers run; absent means they do (the default until an operator pauses them). */
  async getSchedule(): Promise<ScheduleRecord> {
    const key = this.#ctx.keys.clusterSchedule();
    const record = recordAt(await this.#ctx.kv.read("get schedule", [key]), "schedule", key);
    return record ?? { enabled: true, updatedAtMs: 0, reason: "" };
  }

  /** Pauses (enabled false) or resumes the schedulers; last writer wins. */
  async setSchedule(enabled: boolean, reason: string): Promise<ScheduleRecord> {
    const { kv, keys, now } = this.#ctx;
    const key = keys.clusterSchedule();
    const record: ScheduleRecord = { enabled, updatedAtMs: now(), reason };
    await kv.commit("set schedule", [], [{ op: "put", key, value: encodeRecord("schedule", record) }], []);
    return record;
  }

  async getView(): Promise<ClusterView> {
    const key = this.#ctx.keys.clusterView();
    const view = recordAt(await this.#ctx.kv.read("get cluster view", [key]), "cluster_view", key);
    if (view === undefined) throw new ClusterNotFoundError(this.#ctx.keys.root);
    return view;
  }

  /**
   * Places shards: sets leader and followers of each named shard. In one transaction guarded by the
   * cluster view and the changed shards' views: the topology version and the version of each shard
   * whose placement changed go up by one. Assignments equal to the current ones are a no-op, so a
   * repeated request is answered with the current view.
   */
  async assignShards(request: AssignShardsRequest): Promise<AssignShardsResult> {
    const { kv, keys, now } = this.#ctx;
    const operation = "assign shards";
    validateAssignments(request.assignments);
    const viewKey = keys.clusterView();
    const shardKeys = request.assignments.map((a) => keys.shardView(a.shardId));
    const snapshot = await kv.read(operation, [viewKey, ...shardKeys]);
    const view = recordAt(snapshot, "cluster_view", viewKey);
    if (view === undefined) throw new ClusterNotFoundError(keys.root);

    const byShard = new Map(view.shards.map((entry) => [entry.shardId, entry]));
    const changed: ShardAssignment[] = [];
    for (const assignment of request.assignments) {
      const current = byShard.get(assignment.shardId);
      if (current === undefined) throw new ShardNotFoundError(assignment.shardId);
      if (!sameAssignment(current, assignment)) changed.push(normalizedAssignment(assignment));
    }
    if (changed.length === 0) return { view, changedShards: [] };
    if (request.expectedVersion !== undefined && request.expectedVersion !== view.version) {
      throw new ClusterViewConflictError(viewKey, request.expectedVersion, view.version);
    }

    const at = now();
    const guards: KvGuard[] = [{ key: viewKey, modRevision: snapshot.modRevision(viewKey) }];
    const writes: KvWrite[] = [];
    const changedShards: ShardView[] = [];
    for (const assignment of changed) {
      const key = keys.shardView(assignment.shardId);
      const shard = recordAt(snapshot, "shard_view", key);
      if (shard === undefined) {
        throw new MetadataCorruptionError(
          key,
          `shard ${assignment.shardId} is in the cluster view but has no view`,
        );
      }
      const next: ShardView = { ...shard, version: shard.version + 1, updatedAtMs: at };
      guards.push({ key, modRevision: snapshot.modRevision(key) });
      writes.push({ op: "put", key, value: encodeRecord("shard_view", next) });
      changedShards.push(next);
    }
    for (const assignment of changed) byShard.set(assignment.shardId, assignment);
    const nextView: ClusterView = {
      version: view.version + 1,
      shards: [...byShard.values()].sort((a, b) => a.shardId - b.shardId),
      updatedAtMs: at,
    };
    writes.push({ op: "put", key: viewKey, value: encodeRecord("cluster_view", nextView) });

    const outcome = await kv.commit(
      operation,
      guards,
      writes,
      guards.map((guard) => guard.key),
    );
    if (outcome.succeeded) return { view: nextView, changedShards };
    const currentView = recordAt(outcome.current, "cluster_view", viewKey);
    if (currentView === undefined) throw new ClusterNotFoundError(keys.root);
    if (outcome.current.modRevision(viewKey) !== snapshot.modRevision(viewKey)) {
      throw new ClusterViewConflictError(viewKey, view.version, currentView.version);
    }
    for (const assignment of changed) {
      const key = keys.shardView(assignment.shardId);
      const before = recordAt(snapshot, "shard_view", key);
      const after = recordAt(outcome.current, "shard_view", key);
      if (after === undefined) throw new ShardNotFoundError(assignment.shardId);
      if (outcome.current.modRevision(key) !== snapshot.modRevision(key)) {
        throw new ShardVersionConflictError(key, assignment.shardId, before?.version ?? 0, after.version);
      }
    }
    throw new MetadataConflictError(viewKey, "the cluster view changed while shards were assigned");
  }

  async #readSettings(operation: string): Promise<ClusterSettings | undefined> {
    const key = this.#ctx.keys.clusterSettings();
    return recordAt(await this.#ctx.kv.read(operation, [key]), "cluster_settings", key);
  }

  #settingsFor(request: CreateClusterRequest): ClusterSettings {
    const settings: ClusterSettings = {
      name: this.#ctx.keys.clusterName,
      ...DEFAULT_CLUSTER_SETTINGS,
      ...definedFields(request),
      createdAtMs: this.#ctx.now(),
    };
    requireInteger("shardCount", settings.shardCount, 1, MAX_NARROW_ID);
    requireInteger("followersPerShard", settings.followersPerShard, 0, 1_000);
    requireInteger("minNodeCount", settings.minNodeCount, 0, 1_000_000);
    requireInteger("nodeLeaseTtlMs", settings.nodeLeaseTtlMs, MIN_LEASE_TTL_MS);
    requireInteger("metaLeaderLeaseTtlMs", settings.metaLeaderLeaseTtlMs, MIN_LEASE_TTL_MS);
    const topologies: readonly TopologyType[] = ["static", "dynamic"];
    if (!topologies.includes(settings.topologyType)) {
      throw new InvalidMetadataRequestError(
        "topologyType",
        `must be static or dynamic, got ${settings.topologyType}`,
      );
    }
    return settings;
  }

  async #createMissingShardViews(operation: string, shardIds: readonly number[]): Promise<void> {
    const { kv, keys, now } = this.#ctx;
    const shardKeys = shardIds.map((id) => keys.shardView(id));
    let snapshot = await kv.read(operation, shardKeys);
    for (;;) {
      const missing = shardIds.filter((id) => snapshot.get(keys.shardView(id)) === undefined);
      if (missing.length === 0) return;
      const at = now();
      const outcome = await kv.commit(
        operation,
        missing.map((id) => ({ key: keys.shardView(id), modRevision: 0 })),
        missing.map((shardId) => ({
          op: "put",
          key: keys.shardView(shardId),
          value: encodeRecord("shard_view", { shardId, version: 1, tableIds: [], updatedAtMs: at }),
        })),
        shardKeys,
      );
      if (outcome.succeeded) return;
      // Another creator wrote some of them: keep its views, fill in the rest.
      snapshot = outcome.current;
    }
  }
}

function validateAssignments(assignments: readonly ShardAssignment[]): void {
  if (assignments.length === 0) throw new InvalidMetadataRequestError("assignments", "must not be empty");
  // One guard per changed shard, plus the cluster view's.
  if (assignments.length > MAX_ASSIGNMENTS_PER_CALL) {
    throw new InvalidMetadataRequestError(
      "assignments",
      `at most ${MAX_ASSIGNMENTS_PER_CALL} shards per call`,
    );
  }
  requireDistinct(
    "assignments",
    assignments.map((a) => a.shardId),
    (id) => `shard ${id}`,
  );
  assignments.forEach((assignment, i) => {
    const field = `assignments[${i}]`;
    requireInteger(`${field}.shardId`, assignment.shardId, 0, MAX_NARROW_ID);
    if (assignment.leader !== null) requireName(`${field}.leader`, assignment.leader);
    assignment.followers.forEach((follower, j) => requireName(`${field}.followers[${j}]`, follower));
    requireDistinct(`${field}.followers`, assignment.followers);
    if (assignment.leader !== null && assignment.followers.includes(assignment.leader)) {
      throw new InvalidMetadataRequestError(`${field}.followers`, `holds the leader ${assignment.leader}`);
    }
  });
}

/** Followers are a set: compared and stored sorted. */
function normalizedAssignment(assignment: ShardAssignment): ShardAssignment {
  return {
    shardId: assignment.shardId,
    leader: assignment.leader,
    followers: [...assignment.followers].sort(),
  };
}

function sameAssignment(a: ShardAssignment, b: ShardAssignment): boolean {
  const followersA = [...a.followers].sort();
  const followersB = [...b.followers].sort();
  return (
    a.leader === b.leader &&
    followersA.length === followersB.length &&
    followersA.every((node, i) => node === followersB[i])
  );
}

function definedFields<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
