/**
 * The write-ahead log of one shard: an append-only sequence of records, each holding one table's rows
 * from one write request. Implementations: local segment files (standalone) and one single-partition
 * Kafka topic per shard (cluster), where the sequence is the Kafka offset.
 */
export interface WalRecord {
  /** Position in the shard's log; strictly increasing, not necessarily contiguous. */
  readonly sequence: number;
  readonly tableId: number;
  /** The shard version the writer held when appending (fencing and diagnostics). */
  readonly shardVersion: number;
  /** The encoded rows (see `batch/batch-codec.ts`); opaque to the WAL. */
  readonly payload: Uint8Array;
}

export interface WalAppend {
  readonly tableId: number;
  readonly shardVersion: number;
  readonly payload: Uint8Array;
}

/** What a shard's WAL has written and holds, for metrics. */
export interface WalUsage {
  /** Bytes appended (headers included) since the WAL was opened. */
  readonly bytesWritten: number;
  /** Records appended since the WAL was opened. */
  readonly records: number;
  /** Bytes the log holds now: what truncation has not freed yet. */
  readonly retainedBytes: number;
}

export interface ShardWal {
  readonly shardId: number;
  /**
   * Appends one record and resolves once it is durable (fsync'd, or acknowledged by all in-sync
   * Kafka replicas), with its sequence. Concurrent appends share one sync (group commit).
   */
  append(record: WalAppend): Promise<number>;
  /** Appends several records durably with one sync; sequences are returned in input order. */
  appendBatch(records: readonly WalAppend[]): Promise<number[]>;
  /** Every record with sequence >= fromSequence, in order. */
  read(fromSequence: number): AsyncIterable<WalRecord>;
  /**
   * Allows records below `sequence` to be discarded. Implementations free whole segments, so some
   * records below it may still be read afterwards; records at or above it are never lost.
   */
  truncateBelow(sequence: number): Promise<void>;
  /** The sequence the next append will get (one past the last record). */
  nextSequence(): number;
  usage(): WalUsage;
  close(): Promise<void>;
}

/** Opens the WAL of each shard of an instance. */
export interface WalManager {
  open(shardId: number): Promise<ShardWal>;
  close(): Promise<void>;
}
