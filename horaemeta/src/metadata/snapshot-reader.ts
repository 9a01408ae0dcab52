/**
 * The whole mapping of a cluster read at one etcd revision: what admin views and the invariant
 * checker need to see without the tears of separate reads racing concurrent changes.
 */
import { decodeRecord } from "./codec.js";
import type { StoreContext } from "./context.js";
import type { StoredShardLock } from "./procedure-store.js";
import type { StoredProcedure } from "./procedure-store.js";
import type { ClusterState, ClusterView, ShardView, TableRecord } from "./records.js";

export interface ClusterSnapshot {
  /** The etcd revision everything was read at. */
  readonly revision: number;
  readonly state: ClusterState | undefined;
  readonly view: ClusterView | undefined;
  readonly shards: readonly ShardView[];
  readonly tables: readonly TableRecord[];
  readonly procedures: readonly StoredProcedure[];
  readonly locks: readonly StoredShardLock[];
}

export class SnapshotReader {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async read(): Promise<ClusterSnapshot> {
    const { kv, keys } = this.#ctx;
    const { revision, entries } = await kv.readPrefix("read cluster snapshot", keys.root);
    let state: ClusterState | undefined;
    let view: ClusterView | undefined;
    const shards: ShardView[] = [];
    const tables: TableRecord[] = [];
    const procedures: StoredProcedure[] = [];
    const locks: StoredShardLock[] = [];
    for (const entry of entries) {
      const parsed = keys.parse(entry.key);
      switch (parsed?.type) {
        case "clusterState":
          state = decodeRecord("cluster_state", entry.key, entry.value).state;
          break;
        case "clusterView":
          view = decodeRecord("cluster_view", entry.key, entry.value);
          break;
        case "shardView":
          shards.push(decodeRecord("shard_view", entry.key, entry.value));
          break;
        case "tableById":
          tables.push(decodeRecord("table", entry.key, entry.value));
          break;
        case "procedure":
          procedures.push({
            procedure: decodeRecord("procedure", entry.key, entry.value),
            revision: entry.modRevision,
          });
          break;
        case "shardLock":
          locks.push({ shardId: parsed.shardId, ...decodeRecord("shard_lock", entry.key, entry.value) });
          break;
        default:
          break;
      }
    }
    return { revision, state, view, shards, tables, procedures, locks };
  }
}
