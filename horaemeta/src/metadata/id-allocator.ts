/**
 * Ids handed out in blocks. A block of `blockSize` ids is reserved with one compare-and-swap on the
 * kind's counter key (the counter moves past the block), then its ids are handed out from memory.
 * Ids of a block that were not handed out before a restart are skipped, never reused: the counter
 * only grows, so two allocators (or two lifetimes of one) never hand out the same id.
 */
import { decodeRecord, encodeRecord } from "./codec.js";
import type { EtcdKv } from "./etcd-kv.js";
import { IdAllocationConflictError, IdSpaceExhaustedError, InvalidMetadataRequestError } from "./errors.js";
import { MAX_NARROW_ID, type IdKind } from "./keys.js";

export interface IdAllocatorOptions {
  readonly kind: IdKind;
  /** The counter key. */
  readonly key: string;
  readonly blockSize: number;
  /** The id handed out first when the counter does not exist yet. */
  readonly firstId: number;
  /** The largest id the kind can hold. */
  readonly maxId: number;
  /** Compare-and-swap attempts per block before giving up with IdAllocationConflictError. */
  readonly maxAttempts?: number;
}

const DEFAULT_MAX_ATTEMPTS = 32;

/** The first id and the id range of each kind: schema and shard ids are uint32 in the protocol. */
export const ID_RANGES: Readonly<Record<IdKind, { firstId: number; maxId: number }>> = {
  schema: { firstId: 1, maxId: MAX_NARROW_ID },
  table: { firstId: 1, maxId: Number.MAX_SAFE_INTEGER },
  // Shards 0 .. shardCount-1 come with the cluster, which sets the counter to shardCount.
  shard: { firstId: 0, maxId: MAX_NARROW_ID },
  procedure: { firstId: 1, maxId: Number.MAX_SAFE_INTEGER },
};

export const DEFAULT_ID_BLOCK_SIZES: Readonly<Record<IdKind, number>> = {
  schema: 16,
  table: 256,
  shard: 8,
  procedure: 64,
};

export class BlockIdAllocator {
  readonly #kv: EtcdKv;
  readonly #options: IdAllocatorOptions;
  #next = 0;
  #end = 0;
  #reserving: Promise<void> | undefined;

  constructor(kv: EtcdKv, options: IdAllocatorOptions) {
    if (!Number.isSafeInteger(options.blockSize) || options.blockSize < 1) {
      throw new InvalidMetadataRequestError(`idBlockSizes.${options.kind}`, "must be a positive integer");
    }
    this.#kv = kv;
    this.#options = options;
  }

  /** A fresh id. Concurrent callers share one block reservation. */
  async next(): Promise<number> {
    for (;;) {
      if (this.#next < this.#end) return this.#next++;
      this.#reserving ??= this.#reserveBlock().finally(() => {
        this.#reserving = undefined;
      });
      await this.#reserving;
    }
  }

  async #reserveBlock(): Promise<void> {
    const { key, blockSize, firstId, maxId, kind } = this.#options;
    const operation = `reserve ${kind} ids`;
    const attempts = this.#options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    let counter = (await this.#kv.read(operation, [key])).get(key);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const start = counter === undefined ? firstId : decodeRecord("id_counter", key, counter.value).next;
      if (start > maxId) throw new IdSpaceExhaustedError(key, maxId);
      const end = Math.min(start + blockSize, maxId + 1);
      const outcome = await this.#kv.commit(
        operation,
        [{ key, modRevision: counter?.modRevision ?? 0 }],
        [{ op: "put", key, value: encodeRecord("id_counter", { next: end }) }],
        [key],
      );
      if (outcome.succeeded) {
        this.#next = start;
        this.#end = end;
        return;
      }
      counter = outcome.current.get(key);
    }
    throw new IdAllocationConflictError(key, attempts);
  }
}

/** One block allocator per id kind, all over the counters of one cluster. */
export class IdAllocators {
  readonly #allocators: Record<IdKind, BlockIdAllocator>;

  constructor(
    kv: EtcdKv,
    counterKey: (kind: IdKind) => string,
    blockSizes: Partial<Record<IdKind, number>> = {},
  ) {
    const allocator = (kind: IdKind): BlockIdAllocator =>
      new BlockIdAllocator(kv, {
        kind,
        key: counterKey(kind),
        blockSize: blockSizes[kind] ?? DEFAULT_ID_BLOCK_SIZES[kind],
        ...ID_RANGES[kind],
      });
    this.#allocators = {
      schema: allocator("schema"),
      table: allocator("table"),
      shard: allocator("shard"),
      procedure: allocator("procedure"),
    };
  }

  /** A fresh id of `kind`, never handed out before by any allocator of the cluster. */
  next(kind: IdKind): Promise<number> {
    return this.#allocators[kind].next();
  }
}
