import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { componentLogger, createLogger } from "@horaedb/common";
import type { Logger } from "pino";
import type { WalManager } from "../wal.js";
import { WalAlreadyOpenError } from "./errors.js";
import { LocalShardWal } from "./local-shard-wal.js";
import { syncDirectory } from "./segment-files.js";

export interface LocalWalManagerOptions {
  /** Holds one log directory per shard, `shard-<id>`; created if missing. */
  readonly rootDir: string;
  /** Segment roll size in bytes; default 64 MiB. */
  readonly segmentBytes?: number;
  /** Bytes read from a segment at a time by reads and recovery; default 4 MiB. */
  readonly readChunkBytes?: number;
  /** See `LocalShardWalOptions.verifyOnOpen`; default "tail". */
  readonly verifyOnOpen?: "tail" | "full";
  /** Default: JSON lines on stdout at level warn. */
  readonly logger?: Logger;
}

/** The local WALs of one instance: one segment-file log per shard under `rootDir`. */
export class LocalWalManager implements WalManager {
  readonly rootDir: string;
  readonly #options: LocalWalManagerOptions;
  readonly #logger: Logger;
  /** Shards being opened or open, so a log directory never has two writers in this process. */
  readonly #shards = new Map<number, Promise<LocalShardWal>>();

  constructor(options: LocalWalManagerOptions) {
    this.rootDir = options.rootDir;
    this.#options = options;
    this.#logger = componentLogger(options.logger ?? createLogger({ name: "horaedb", level: "warn" }), "wal");
  }

  /** The log directory of a shard. */
  shardDirectory(shardId: number): string {
    return join(this.rootDir, `shard-${shardId}`);
  }

  /** Opens a shard's WAL; fails with `WalAlreadyOpenError` while it is open (close it first). */
  open(shardId: number): Promise<LocalShardWal> {
    if (!Number.isSafeInteger(shardId) || shardId < 0) {
      return Promise.reject(new RangeError(`shard id must be a non-negative integer, got ${shardId}`));
    }
    const directory = this.shardDirectory(shardId);
    if (this.#shards.has(shardId)) return Promise.reject(new WalAlreadyOpenError(shardId, directory));
    const opening = this.#openShard(shardId, directory);
    this.#shards.set(shardId, opening);
    opening.catch(() => this.#shards.delete(shardId));
    return opening;
  }

  async #openShard(shardId: number, directory: string): Promise<LocalShardWal> {
    await mkdir(this.rootDir, { recursive: true });
    const existed = await stat(directory).then(
      () => true,
      () => false,
    );
    if (!existed) {
      await mkdir(directory, { recursive: true });
      await syncDirectory(this.rootDir);
    }
    return LocalShardWal.open({
      shardId,
      directory,
      logger: this.#logger.child({ shardId }),
      segmentBytes: this.#options.segmentBytes,
      readChunkBytes: this.#options.readChunkBytes,
      verifyOnOpen: this.#options.verifyOnOpen,
      // While this WAL is open no other entry for the shard can be added, so this one is its own.
      onClose: () => this.#shards.delete(shardId),
    });
  }

  /** Closes every open shard WAL. */
  async close(): Promise<void> {
    const shards = [...this.#shards.values()];
    // A shard whose open failed has nothing to close (its open call reported the failure).
    const results = await Promise.allSettled(
      shards.map((opening) =>
        opening.then(
          (wal) => wal.close(),
          () => undefined,
        ),
      ),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure !== undefined) throw failure.reason;
  }
}
