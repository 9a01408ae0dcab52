/** Shards as units: their views, and adding or removing a shard (for split and merge). */
import { decodeRecord, encodeRecord } from "./codec.js";
import { recordAt, type StoreContext } from "./context.js";
import {
  ClusterNotFoundError,
  ClusterViewConflictError,
  MetadataConflictError,
  ShardNotEmptyError,
  ShardNotFoundError,
  ShardVersionConflictError,
} from "./errors.js";
import type { ClusterView, ShardView } from "./records.js";
import { requireInteger } from "./validation.js";

export interface CreateShardResult {
  readonly shard: ShardView;
  readonly view: ClusterView;
  /** false when a shard of the given id existed already. */
  readonly created: boolean;
}

export class ShardStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async get(shardId: number): Promise<ShardView> {
    const key = this.#ctx.keys.shardView(shardId);
    const shard = recordAt(await this.#ctx.kv.read("get shard view", [key]), "shard_view", key);
    if (shard === undefined) throw new ShardNotFoundError(shardId);
    return shard;
  }

  /** Every shard view, by shard id. */
  async list(): Promise<ShardView[]> {
    const { entries } = await this.#ctx.kv.readPrefix("list shard views", this.#ctx.keys.shardsPrefix());
    return entries
      .filter((entry) => this.#ctx.keys.parse(entry.key)?.type === "shardView")
      .map((entry) => decodeRecord("shard_view", entry.key, entry.value));
  }

  /**
   * Adds an empty shard (version 1) to the cluster view, topology version + 1, in one transaction
   * guarded by the cluster view. Without `shardId` it takes a fresh id; with one (taken from
   * `ids.next("shard")` beforehand, as a procedure does so that a repeat creates the same shard) a
   * repeat after success answers the existing shard with `created: false`. `placement` places it
   * at once (e.g. beside the shard it was split from); by default it is not placed.
   */
  async create(
    request: {
      readonly shardId?: number;
      readonly placement?: { readonly leader: string | null; readonly followers: readonly string[] };
    } = {},
  ): Promise<CreateShardResult> {
    const { kv, keys, ids, now } = this.#ctx;
    const operation = "create shard";
    const viewKey = keys.clusterView();
    const view = recordAt(await kv.read(operation, [viewKey]), "cluster_view", viewKey);
    if (view === undefined) throw new ClusterNotFoundError(keys.root);
    const shardId = request.shardId ?? (await ids.next("shard"));
    requireInteger("shardId", shardId, 0);
    const shardKey = keys.shardView(shardId);
    const snapshot = await kv.read(operation, [viewKey, shardKey]);
    const current = recordAt(snapshot, "cluster_view", viewKey);
    if (current === undefined) throw new ClusterNotFoundError(keys.root);
    const existing = recordAt(snapshot, "shard_view", shardKey);
    if (existing !== undefined && request.shardId !== undefined) {
      if (current.shards.some((entry) => entry.shardId === shardId)) {
        return { shard: existing, view: current, created: false };
      }
    }
    const at = now();
    const shard: ShardView = { shardId, version: 1, tableIds: [], updatedAtMs: at };
    const placement = request.placement ?? { leader: null, followers: [] };
    const nextView: ClusterView = {
      version: current.version + 1,
      shards: [
        ...current.shards,
        { shardId, leader: placement.leader, followers: [...placement.followers] },
      ].sort((a, b) => a.shardId - b.shardId),
      updatedAtMs: at,
    };
    const outcome = await kv.commit(
      operation,
      [
        { key: viewKey, modRevision: snapshot.modRevision(viewKey) },
        { key: shardKey, modRevision: 0 },
      ],
      [
        { op: "put", key: shardKey, value: encodeRecord("shard_view", shard) },
        { op: "put", key: viewKey, value: encodeRecord("cluster_view", nextView) },
      ],
      [viewKey],
    );
    if (outcome.succeeded) return { shard, view: nextView, created: true };
    const after = recordAt(outcome.current, "cluster_view", viewKey);
    if (after === undefined) throw new ClusterNotFoundError(keys.root);
    if (outcome.current.modRevision(viewKey) !== snapshot.modRevision(viewKey)) {
      throw new ClusterViewConflictError(viewKey, current.version, after.version);
    }
    // The id's key exists without a cluster view entry: a leftover of a concurrent cluster creation.
    // A retry without a given id takes a new one.
    throw new MetadataConflictError(shardKey, `shard ${shardId} has a view already`);
  }

  /**
   * Removes an empty shard: its view and its cluster view entry, topology version + 1, in one
   * transaction guarded by both. With `expectedVersion`, only at that shard version.
   */
  async delete(shardId: number, options: { expectedVersion?: number } = {}): Promise<ClusterView> {
    const { kv, keys, now } = this.#ctx;
    const operation = "delete shard";
    requireInteger("shardId", shardId, 0);
    const viewKey = keys.clusterView();
    const shardKey = keys.shardView(shardId);
    const snapshot = await kv.read(operation, [viewKey, shardKey]);
    const view = recordAt(snapshot, "cluster_view", viewKey);
    if (view === undefined) throw new ClusterNotFoundError(keys.root);
    const shard = recordAt(snapshot, "shard_view", shardKey);
    if (shard === undefined) throw new ShardNotFoundError(shardId);
    if (options.expectedVersion !== undefined && options.expectedVersion !== shard.version) {
      throw new ShardVersionConflictError(shardKey, shardId, options.expectedVersion, shard.version);
    }
    if (shard.tableIds.length > 0) throw new ShardNotEmptyError(shardId, shard.tableIds.length);
    const nextView: ClusterView = {
      version: view.version + 1,
      shards: view.shards.filter((entry) => entry.shardId !== shardId),
      updatedAtMs: now(),
    };
    const outcome = await kv.commit(
      operation,
      [
        { key: viewKey, modRevision: snapshot.modRevision(viewKey) },
        { key: shardKey, modRevision: snapshot.modRevision(shardKey) },
      ],
      [
        { op: "delete", key: shardKey },
        { op: "put", key: viewKey, value: encodeRecord("cluster_view", nextView) },
      ],
      [viewKey, shardKey],
    );
    if (outcome.succeeded) return nextView;
    const shardNow = recordAt(outcome.current, "shard_view", shardKey);
    if (shardNow === undefined) throw new ShardNotFoundError(shardId);
    if (outcome.current.modRevision(shardKey) !== snapshot.modRevision(shardKey)) {
      throw new ShardVersionConflictError(shardKey, shardId, shard.version, shardNow.version);
    }
    const viewNow = recordAt(outcome.current, "cluster_view", viewKey);
    throw new ClusterViewConflictError(viewKey, view.version, viewNow?.version ?? 0);
  }
}
