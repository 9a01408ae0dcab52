/**
 * The etcd calls the store makes: reads at one revision, guarded transactions and leases. Every call
 * carries a deadline, and every failure comes out as a MetadataError.
 */
import {
  castGrpcError,
  ClientClosedError,
  EtcdLeaseInvalidError,
  GRPCDeadlineExceededError,
  isRecoverableError,
  type Etcd3,
  type ICompare,
  type IKeyValue,
  type IRangeRequest,
  type IRequestOp,
  type ITxnResponse,
} from "etcd3";
import {
  InvalidMetadataRequestError,
  LeaderFenceError,
  MetadataConflictError,
  MetadataEtcdError,
  MetadataTimeoutError,
  MetadataUnavailableError,
} from "./errors.js";
import { prefixRangeEnd } from "./keys.js";

/** etcd's default `--max-txn-ops`: the most compares, and the most ops per branch, of one txn. */
export const MAX_TXN_OPS = 128;
/** Guards one transaction may carry: one compare is kept for the leader fence (WriteFence). */
export const MAX_TXN_GUARDS = MAX_TXN_OPS - 1;
/** Keys per page of a prefix read, so a large listing never exceeds gRPC's message size limit. */
const PREFIX_PAGE_SIZE = 500;

export interface KvEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  /** Decimal etcd lease id, "0" when the key has none. */
  readonly lease: string;
}

/** Keys read at one revision of the store. */
export class KvSnapshot {
  readonly revision: number;
  readonly #entries: ReadonlyMap<string, KvEntry>;

  constructor(revision: number, entries: ReadonlyMap<string, KvEntry>) {
    this.revision = revision;
    this.#entries = entries;
  }

  get(key: string): KvEntry | undefined {
    return this.#entries.get(key);
  }

  /** Mod revision of `key` at this snapshot; 0 when absent (what a guard compares against). */
  modRevision(key: string): number {
    return this.#entries.get(key)?.modRevision ?? 0;
  }
}

/** The transaction applies only if `key`'s mod revision is still `modRevision` (0: still absent). */
export interface KvGuard {
  readonly key: string;
  readonly modRevision: number;
}

export type KvWrite =
  | { readonly op: "put"; readonly key: string; readonly value: string; readonly etcdLeaseId?: string }
  | { readonly op: "delete"; readonly key: string };

export type CommitOutcome =
  | { readonly succeeded: true; readonly revision: number }
  /** A guard failed; `current` holds the re-read keys as they are at the failed transaction. */
  | { readonly succeeded: false; readonly revision: number; readonly current: KvSnapshot };

/**
 * Fences a leader's writes in etcd itself: every transaction also compares the create revision of
 * the key the leader's election created for its term. Once that key is gone (its lease expired or was
 * revoked, so another replica can be elected) etcd refuses the write, however late it arrives.
 */
export interface WriteFence {
  /** The election key of the term. */
  readonly key: string;
  /** Its create revision: a key of the same name created later (a new term) does not match. */
  readonly createRevision: number;
  /** Told when etcd refused a write for the fence (e.g. to end the term at once). */
  readonly onLost?: (error: LeaderFenceError) => void;
}

export interface GrantedLease {
  readonly id: string;
  readonly ttlSeconds: number;
}

export class EtcdKv {
  readonly #client: Etcd3;
  readonly callTimeoutMs: number;
  /** Added to every commit; undefined: writes are not fenced. */
  readonly fence: WriteFence | undefined;

  constructor(client: Etcd3, callTimeoutMs: number, fence?: WriteFence) {
    this.#client = client;
    this.callTimeoutMs = callTimeoutMs;
    this.fence = fence;
  }

  /**
   * Reads `keys` at one revision: `atRevision` if given, otherwise the current one. Key lists longer
   * than one transaction allows are read in several, pinned to the revision of the first.
   */
  async read(operation: string, keys: readonly string[], atRevision?: number): Promise<KvSnapshot> {
    const unique = [...new Set(keys)];
    const entries = new Map<string, KvEntry>();
    let revision = atRevision;
    let offset = 0;
    do {
      const chunk = unique.slice(offset, offset + MAX_TXN_OPS);
      offset += MAX_TXN_OPS;
      const pinned = revision;
      const response = await this.#call(operation, (deadline) =>
        this.#client.kv.txn(
          {
            compare: [],
            success: chunk.map((key) => ({ request_range: rangeOf(key, pinned) })),
            failure: [],
          },
          { deadline },
        ),
      );
      revision ??= Number(response.header.revision);
      for (const op of response.responses) {
        for (const kv of op.response_range.kvs) {
          const entry = toEntry(kv);
          entries.set(entry.key, entry);
        }
      }
    } while (offset < unique.length);
    return new KvSnapshot(revision ?? 0, entries);
  }

  /** Every key under `prefix`, in key order, at one revision (`atRevision` or the current one). */
  async readPrefix(
    operation: string,
    prefix: string,
    atRevision?: number,
  ): Promise<{ revision: number; entries: KvEntry[] }> {
    const end = prefixRangeEnd(prefix);
    const entries: KvEntry[] = [];
    let from = Buffer.from(prefix);
    let revision = atRevision;
    for (;;) {
      const pinned = revision;
      const response = await this.#call(operation, (deadline) =>
        this.#client.kv.range(
          {
            key: from,
            range_end: end,
            limit: PREFIX_PAGE_SIZE,
            ...(pinned === undefined ? {} : { revision: pinned }),
          },
          { deadline },
        ),
      );
      revision ??= Number(response.header.revision);
      for (const kv of response.kvs) entries.push(toEntry(kv));
      const last = response.kvs.at(-1);
      if (!response.more || last === undefined) break;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { revision: revision ?? 0, entries };
  }

  /**
   * One transaction: if every guard holds, apply `writes`; otherwise read `rereadKeys` (in the same
   * transaction, so they show what the guards saw). With a fence, the transaction also requires the
   * fence key at its create revision; when that is what failed, it throws LeaderFenceError (after
   * telling the fence's `onLost`) whatever the other guards say.
   */
  async commit(
    operation: string,
    guards: readonly KvGuard[],
    writes: readonly KvWrite[],
    rereadKeys: readonly string[],
  ): Promise<CommitOutcome> {
    const reread = [...new Set(rereadKeys)];
    // The same limits with and without a fence, so what fits never depends on who writes.
    if (guards.length > MAX_TXN_GUARDS || writes.length > MAX_TXN_OPS || reread.length > MAX_TXN_GUARDS) {
      throw new InvalidMetadataRequestError(
        operation,
        `a transaction holds at most ${MAX_TXN_GUARDS} guards and ${MAX_TXN_OPS} writes ` +
          `(got ${guards.length} and ${writes.length})`,
      );
    }
    const fence = this.fence;
    const compare: ICompare[] = guards.map((guard) => ({
      key: Buffer.from(guard.key),
      target: "Mod",
      result: "Equal",
      mod_revision: guard.modRevision,
    }));
    if (fence !== undefined) {
      compare.push({
        key: Buffer.from(fence.key),
        target: "Create",
        result: "Equal",
        create_revision: fence.createRevision,
      });
      reread.push(fence.key);
    }
    const success: IRequestOp[] = writes.map((write) =>
      write.op === "put"
        ? {
            request_put: {
              key: Buffer.from(write.key),
              value: Buffer.from(write.value),
              ...(write.etcdLeaseId === undefined ? {} : { lease: write.etcdLeaseId }),
            },
          }
        : { request_delete_range: { key: Buffer.from(write.key) } },
    );
    const failure: IRequestOp[] = reread.map((key) => ({ request_range: rangeOf(key) }));
    const response: ITxnResponse = await this.#call(operation, (deadline) =>
      this.#client.kv.txn({ compare, success, failure }, { deadline }),
    );
    const revision = Number(response.header.revision);
    if (response.succeeded) return { succeeded: true, revision };
    const entries = new Map<string, KvEntry>();
    for (const op of response.responses) {
      for (const kv of op.response_range.kvs) {
        const entry = toEntry(kv);
        entries.set(entry.key, entry);
      }
    }
    if (fence !== undefined && entries.get(fence.key)?.createRevision !== fence.createRevision) {
      const error = new LeaderFenceError(operation, fence.key, fence.createRevision);
      fence.onLost?.(error);
      throw error;
    }
    return { succeeded: false, revision, current: new KvSnapshot(revision, entries) };
  }

  /** Grants an etcd lease; etcd may grant a longer TTL than asked for (it has a minimum). */
  async grantLease(operation: string, ttlSeconds: number): Promise<GrantedLease> {
    const response = await this.#call(operation, (deadline) =>
      this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds }, { deadline }),
    );
    return { id: String(response.ID), ttlSeconds: Number(response.TTL) };
  }

  /** Renews a lease once; resolves to its new TTL in seconds, 0 when the lease has expired. */
  async keepAliveLease(operation: string, leaseId: string): Promise<number> {
    return this.#call(operation, async (deadline) => {
      const stream = await this.#client.leaseClient.leaseKeepAlive({ deadline });
      return new Promise<number>((resolve, reject) => {
        stream.on("data", (response) => {
          resolve(Number(response.TTL));
          stream.end();
        });
        stream.on("error", reject);
        stream.on("end", () => reject(new Error("the keepalive stream ended without an answer")));
        stream.write({ ID: leaseId });
      });
    });
  }

  /** Revokes a lease (deleting the keys attached to it); an already expired lease is fine. */
  async revokeLease(operation: string, leaseId: string): Promise<void> {
    try {
      await this.#call(operation, (deadline) =>
        this.#client.leaseClient.leaseRevoke({ ID: leaseId }, { deadline }),
      );
    } catch (error) {
      if (!(error instanceof MetadataEtcdError && error.cause instanceof EtcdLeaseInvalidError)) throw error;
    }
  }

  async #call<T>(operation: string, run: (deadline: Date) => Promise<T>): Promise<T> {
    // One absolute deadline per call: the etcd client's own retries of a failed attempt share it.
    const deadline = new Date(Date.now() + this.callTimeoutMs);
    try {
      return await run(deadline);
    } catch (error) {
      throw translateEtcdError(operation, error, this.callTimeoutMs);
    }
  }
}

/** Maps an etcd client failure to the store's errors: timeouts and transient failures are retryable. */
export function translateEtcdError(operation: string, error: unknown, timeoutMs: number): Error {
  if (!(error instanceof Error)) {
    return new MetadataEtcdError(operation, String(error));
  }
  const typed = castGrpcError(error);
  if (typed instanceof GRPCDeadlineExceededError) {
    return new MetadataTimeoutError(operation, timeoutMs, { cause: typed });
  }
  if (typed.message.includes("required revision has been compacted")) {
    return new MetadataConflictError("<read snapshot>", "etcd compacted the revision being read; read again");
  }
  // cockatiel's open-circuit error: with several endpoints, every host refused connections lately.
  if (
    isRecoverableError(typed) ||
    (typed as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true
  ) {
    return new MetadataUnavailableError(operation, typed.message, { cause: typed });
  }
  if (typed instanceof ClientClosedError) {
    return new MetadataEtcdError(operation, "the etcd client is closed", { cause: typed });
  }
  return new MetadataEtcdError(operation, typed.message, { cause: typed });
}

function rangeOf(key: string, revision?: number): IRangeRequest {
  return revision === undefined ? { key: Buffer.from(key) } : { key: Buffer.from(key), revision };
}

function toEntry(kv: IKeyValue): KvEntry {
  return {
    key: kv.key.toString("utf8"),
    value: kv.value,
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    lease: String(kv.lease),
  };
}
