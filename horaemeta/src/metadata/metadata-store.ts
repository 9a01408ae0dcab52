/** The cluster metadata store: one object over etcd with a part per kind of metadata. */
import type { Etcd3 } from "etcd3";
import type { HoraeMetaConfig } from "../config.js";
import { ClusterStore } from "./cluster-store.js";
import { connectEtcd } from "./etcd-client.js";
import type { StoreContext } from "./context.js";
import { EtcdKv, type WriteFence } from "./etcd-kv.js";
import { SnapshotReader } from "./snapshot-reader.js";
import { IdAllocators } from "./id-allocator.js";
import { MetadataKeys, type IdKind } from "./keys.js";
import { NodeStore } from "./node-store.js";
import { ProcedureStore } from "./procedure-store.js";
import { RouteReader } from "./route-reader.js";
import { SchemaStore } from "./schema-store.js";
import { ShardStore } from "./shard-store.js";
import { TableStore } from "./table-store.js";
import { requireInteger } from "./validation.js";

export const DEFAULT_ROOT_PATH = "/horaedb";
export const DEFAULT_CALL_TIMEOUT_MS = 5_000;

export interface MetadataStoreOptions {
  /** Key prefix in etcd; must start with / and not end with /. Default `/horaedb`. */
  readonly rootPath?: string;
  readonly clusterName: string;
  /** Deadline of every etcd call; a call past it fails with MetadataTimeoutError. Default 5 s. */
  readonly callTimeoutMs?: number;
  /** Ids reserved per counter compare-and-swap, per kind (defaults in DEFAULT_ID_BLOCK_SIZES). */
  readonly idBlockSizes?: Partial<Record<IdKind, number>>;
  /** Clock for the times stored in records. Default Date.now. */
  readonly now?: () => number;
  /** Fences every write of the store (a leader's term); see `fencedBy`. Default: not fenced. */
  readonly fence?: WriteFence;
}

export interface MetadataStoreConnectOptions extends MetadataStoreOptions {
  readonly endpoints: readonly string[];
}

/** Store options from the horaemeta configuration (`etcd.*`, `cluster.name`). */
export function metadataStoreOptionsFromConfig(config: HoraeMetaConfig): MetadataStoreConnectOptions {
  return {
    endpoints: config.etcd.endpoints,
    rootPath: config.etcd.root_path,
    clusterName: config.cluster.name,
  };
}

/**
 * Typed access to one cluster's metadata in etcd. Every multi-key change is one etcd transaction
 * guarded by the mod revisions it read; a failed guard is a MetadataConflictError (re-read, retry).
 */
export class MetadataStore {
  readonly keys: MetadataKeys;
  readonly cluster: ClusterStore;
  readonly shards: ShardStore;
  readonly schemas: SchemaStore;
  readonly tables: TableStore;
  readonly nodes: NodeStore;
  readonly procedures: ProcedureStore;
  readonly routes: RouteReader;
  readonly snapshots: SnapshotReader;
  readonly ids: IdAllocators;
  readonly #client: Etcd3;
  readonly #options: MetadataStoreOptions;
  /** The stores fencedBy() made, one per fence. */
  readonly #fenced = new WeakMap<WriteFence, MetadataStore>();
  #ownsClient = false;

  /**
   * A store over an existing client, which stays the caller's to close. The store sets a deadline
   * on each of its calls itself and holds no lease keepalives, so closing the client after the
   * store's calls have settled leaves nothing running.
   */
  constructor(client: Etcd3, options: MetadataStoreOptions) {
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    requireInteger("callTimeoutMs", callTimeoutMs, 1);
    this.keys = new MetadataKeys(options.rootPath ?? DEFAULT_ROOT_PATH, options.clusterName);
    const kv = new EtcdKv(client, callTimeoutMs, options.fence);
    this.ids = new IdAllocators(kv, (kind) => this.keys.idCounter(kind), options.idBlockSizes);
    const ctx: StoreContext = { kv, keys: this.keys, ids: this.ids, now: options.now ?? Date.now };
    this.cluster = new ClusterStore(ctx);
    this.shards = new ShardStore(ctx);
    this.schemas = new SchemaStore(ctx);
    this.tables = new TableStore(ctx);
    this.nodes = new NodeStore(ctx);
    this.procedures = new ProcedureStore(ctx);
    this.routes = new RouteReader(ctx);
    this.snapshots = new SnapshotReader(ctx);
    this.#client = client;
    this.#options = options;
  }

  /** The fence of this store's writes, if any. */
  get fence(): WriteFence | undefined {
    return this.#options.fence;
  }

  /**
   * The same store with every write fenced by `fence` (a leader's election key): once the key is
   * gone, etcd refuses each write with LeaderFenceError and changes nothing. One store per fence (so
   * its id blocks are reserved under the fence too); it shares this store's client.
   */
  fencedBy(fence: WriteFence): MetadataStore {
    let store = this.#fenced.get(fence);
    if (store === undefined) {
      store = new MetadataStore(this.#client, { ...this.#options, fence });
      this.#fenced.set(fence, store);
    }
    return store;
  }

  /** A store with its own etcd client, closed by `close()`. */
  static connect(options: MetadataStoreConnectOptions): MetadataStore {
    const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    const client = connectEtcd({ endpoints: options.endpoints, callTimeoutMs });
    const store = new MetadataStore(client, options);
    store.#ownsClient = true;
    return store;
  }

  /** Closes the etcd client if the store created it. */
  close(): void {
    if (this.#ownsClient) this.#client.close();
  }
}
