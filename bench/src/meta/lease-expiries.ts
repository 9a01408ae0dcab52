/**
 * When each node's lease key disappeared, from an etcd watch on the `node_leases/` prefix: etcd
 * deletes the key when the node's lease expires, which is the moment horaemeta may fail it over.
 */
import type { Etcd3, Watcher } from "etcd3";
import type { MetadataKeys } from "@horaedb/horaemeta/metadata";

/** A lease key that did not go within the time allowed. */
export class LeaseExpiryTimeoutError extends Error {
  override readonly name = "LeaseExpiryTimeoutError";

  constructor(node: string, timeoutMs: number) {
    super(`the lease key of ${node} was not deleted within ${timeoutMs} ms`);
  }
}

export class LeaseExpiries {
  readonly #watcher: Watcher;
  /** Every deletion seen: node name and when (Date.now(), the clock of the instances' heartbeats). */
  readonly #deletions: { readonly node: string; readonly atMs: number }[] = [];
  readonly #waiters = new Map<string, (atMs: number) => void>();

  private constructor(watcher: Watcher, keys: MetadataKeys) {
    this.#watcher = watcher;
    watcher.on("delete", (kv) => {
      const atMs = Date.now();
      const parsed = keys.parse(kv.key.toString());
      if (parsed?.type !== "nodeLease") return;
      this.#deletions.push({ node: parsed.nodeName, atMs });
      this.#waiters.get(parsed.nodeName)?.(atMs);
    });
    // etcd3 reconnects the watch by itself; an error here only means a moment without events.
    watcher.on("error", () => undefined);
  }

  static async watch(client: Etcd3, keys: MetadataKeys): Promise<LeaseExpiries> {
    return new LeaseExpiries(await client.watch().prefix(keys.nodeLeasesPrefix()).create(), keys);
  }

  /** Lease keys deleted at or after `sinceMs`. */
  countSince(sinceMs: number): number {
    return this.#deletions.filter((deletion) => deletion.atMs >= sinceMs).length;
  }

  /**
   * Resolves with when `node`'s lease key is deleted (at or after `sinceMs`), or rejects after
   * `timeoutMs`. Call it before the node stops heartbeating, so the deletion cannot be missed.
   */
  expiryOf(node: string, sinceMs: number, timeoutMs: number): Promise<number> {
    const seen = this.#deletions.find((deletion) => deletion.node === node && deletion.atMs >= sinceMs);
    if (seen !== undefined) return Promise.resolve(seen.atMs);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(node);
        reject(new LeaseExpiryTimeoutError(node, timeoutMs));
      }, timeoutMs);
      this.#waiters.set(node, (atMs) => {
        clearTimeout(timer);
        this.#waiters.delete(node);
        resolve(atMs);
      });
    });
  }

  async close(): Promise<void> {
    await this.#watcher.cancel();
  }
}
