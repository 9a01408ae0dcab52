/**
 * Bytes in a WAL segment that are not a valid record where one must be: a checksum mismatch, a
 * malformed header, a sequence out of order, or a missing segment. Never skipped: whatever follows
 * the damaged bytes can no longer be trusted to be complete.
 */
export class WalCorruptionError extends Error {
  override readonly name = "WalCorruptionError";
  /** The segment file (or log directory, for a missing segment). */
  readonly path: string;
  /** Byte offset in `path` where the damage starts. */
  readonly offset: number;
  /** What was wrong at that offset. */
  readonly reason: string;

  constructor(path: string, offset: number, reason: string) {
    super(`WAL corruption in ${path} at byte offset ${offset}: ${reason}`);
    this.path = path;
    this.offset = offset;
    this.reason = reason;
  }
}

/** An operation was attempted on a shard WAL that has been closed. */
export class WalClosedError extends Error {
  override readonly name = "WalClosedError";
  readonly shardId: number;

  constructor(shardId: number) {
    super(`the WAL of shard ${shardId} is closed`);
    this.shardId = shardId;
  }
}

/**
 * A write or sync of a segment failed. After a failed fsync the kernel may have dropped the dirty
 * pages, so the log accepts no more appends; reopening it recovers to the last durable record.
 */
export class WalWriteError extends Error {
  override readonly name = "WalWriteError";
  readonly shardId: number;
  readonly path: string;

  constructor(shardId: number, path: string, cause: unknown) {
    super(
      `write to the WAL of shard ${shardId} (${path}) failed; the WAL accepts no more appends until reopened: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.shardId = shardId;
    this.path = path;
  }
}

/** A record passed to `append` cannot be encoded (e.g. an id that is not a non-negative integer). */
export class InvalidWalAppendError extends Error {
  override readonly name = "InvalidWalAppendError";
  readonly shardId: number;
  readonly field: string;

  constructor(shardId: number, field: string, problem: string) {
    super(`cannot append to the WAL of shard ${shardId}: ${field} ${problem}`);
    this.shardId = shardId;
    this.field = field;
  }
}

/** The shard's WAL is already open in this manager; a log directory must have a single writer. */
export class WalAlreadyOpenError extends Error {
  override readonly name = "WalAlreadyOpenError";
  readonly shardId: number;
  readonly directory: string;

  constructor(shardId: number, directory: string) {
    super(`the WAL of shard ${shardId} (${directory}) is already open`);
    this.shardId = shardId;
    this.directory = directory;
  }
}
