import type { FileHandle } from "node:fs/promises";
import type { Logger } from "pino";
import type { ShardWal, WalAppend, WalRecord, WalUsage } from "../wal.js";
import { InvalidWalAppendError, WalClosedError, WalWriteError } from "./errors.js";
import { GroupCommitQueue } from "./group-commit.js";
import { readLog } from "./log-reader.js";
import {
  MAX_PAYLOAD_BYTES,
  payloadCrc,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  writeRecordHeader,
} from "./record-format.js";
import { recoverLog } from "./recovery.js";
import { SegmentCatalog, SegmentState } from "./segment-catalog.js";
import { createSegmentFile, deleteSegmentFile } from "./segment-files.js";

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** Largest write group, in bytes (smaller when segments are smaller). */
const MAX_GROUP_BYTES = 64 * 1024 * 1024;
const MAX_GROUP_APPENDS = 16 * 1024;
/**
 * Payloads below this are copied next to their header so a group is written from few buffers;
 * larger ones are written from the caller's buffer as they are.
 */
const COPY_PAYLOAD_BELOW_BYTES = 64 * 1024;

export interface LocalShardWalOptions {
  readonly shardId: number;
  /** The shard's log directory; must exist. */
  readonly directory: string;
  readonly logger: Logger;
  /** A segment is rolled when the next write group would take it past this size. */
  readonly segmentBytes?: number;
  /** Bytes read from a segment file at a time, by `read` and at open. */
  readonly readChunkBytes?: number;
  /**
   * What open checks: "tail" (default) scans only the last segment, repairing a torn tail;
   * "full" also checks every record of the other segments.
   */
  readonly verifyOnOpen?: "tail" | "full";
  /** Called once when the WAL has closed. */
  readonly onClose?: () => void;
}

/** Counters since open. */
export interface LocalWalStats {
  /** `append` and `appendBatch` calls that were accepted. */
  readonly appends: number;
  /** Records made durable. */
  readonly records: number;
  /** Write groups committed; each is one write of all its records followed by one sync. */
  readonly groups: number;
  /** fdatasync calls on segment files for write groups. */
  readonly syncs: number;
  readonly bytesWritten: number;
  readonly segmentsCreated: number;
  readonly segmentsDeleted: number;
}

interface PendingAppend {
  readonly firstSequence: number;
  readonly records: readonly WalAppend[];
  readonly payloadCrcs: readonly number[];
  readonly bytes: number;
}

/**
 * The WAL of one shard as segment files in one directory. Durable appends with group commit,
 * streaming reads, and truncation by whole segments. Format and recovery rules: see
 * `record-format.ts` and `recovery.ts`.
 *
 * A payload passed to `append` must not be modified until the append has resolved: large payloads
 * are written from the caller's buffer.
 */
export class LocalShardWal implements ShardWal {
  readonly shardId: number;
  readonly directory: string;
  readonly #logger: Logger;
  readonly #segmentBytes: number;
  readonly #readChunkBytes: number;
  readonly #onClose: (() => void) | undefined;
  readonly #catalog: SegmentCatalog;
  readonly #queue: GroupCommitQueue<PendingAppend>;
  #activeHandle: FileHandle;
  #nextSequence: number;
  /** Set after a failed write or sync; every later append fails with it. */
  #failure: WalWriteError | undefined;
  #truncateTarget = 0;
  #maintenance: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #closed = false;
  #stats = {
    appends: 0,
    records: 0,
    groups: 0,
    syncs: 0,
    bytesWritten: 0,
    segmentsCreated: 0,
    segmentsDeleted: 0,
  };

  private constructor(
    options: LocalShardWalOptions,
    segments: SegmentState[],
    activeHandle: FileHandle,
    segmentBytes: number,
    readChunkBytes: number,
  ) {
    this.shardId = options.shardId;
    this.directory = options.directory;
    this.#logger = options.logger;
    this.#segmentBytes = segmentBytes;
    this.#readChunkBytes = readChunkBytes;
    this.#onClose = options.onClose;
    this.#catalog = new SegmentCatalog(segments);
    this.#activeHandle = activeHandle;
    this.#nextSequence = this.#catalog.active.endSequence;
    this.#queue = new GroupCommitQueue<PendingAppend>({
      commit: (group) => this.#commit(group),
      bytesOf: (pending) => pending.bytes,
      maxGroupBytes: Math.min(segmentBytes, MAX_GROUP_BYTES),
      maxGroupItems: MAX_GROUP_APPENDS,
    });
  }

  /** Opens (recovering if needed) or creates the log in `options.directory`. */
  static async open(options: LocalShardWalOptions): Promise<LocalShardWal> {
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const readChunkBytes = options.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES;
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= SEGMENT_HEADER_BYTES) {
      throw new RangeError(
        `segmentBytes must be an integer above ${SEGMENT_HEADER_BYTES}, got ${segmentBytes}`,
      );
    }
    if (!Number.isSafeInteger(readChunkBytes) || readChunkBytes < RECORD_HEADER_BYTES) {
      throw new RangeError(`readChunkBytes must be an integer of at least ${RECORD_HEADER_BYTES}`);
    }
    const recovered = await recoverLog(options.directory, {
      logger: options.logger,
      verify: options.verifyOnOpen ?? "tail",
      chunkBytes: readChunkBytes,
    });
    return new LocalShardWal(
      options,
      recovered.segments,
      recovered.activeHandle,
      segmentBytes,
      readChunkBytes,
    );
  }

  get stats(): LocalWalStats {
    return { ...this.#stats };
  }

  usage(): WalUsage {
    const retainedBytes = this.#catalog.segments.reduce((sum, segment) => sum + segment.durableEnd, 0);
    return { bytesWritten: this.#stats.bytesWritten, records: this.#stats.records, retainedBytes };
  }

  /** First sequences of the segment files, oldest first (the last one is being written). */
  get segmentFirstSequences(): number[] {
    return this.#catalog.segments.map((s) => s.firstSequence);
  }

  nextSequence(): number {
    return this.#nextSequence;
  }

  async append(record: WalAppend): Promise<number> {
    const [sequence] = await this.appendBatch([record]);
    return sequence!;
  }

  async appendBatch(records: readonly WalAppend[]): Promise<number[]> {
    if (this.#closing !== undefined) throw new WalClosedError(this.shardId);
    if (this.#failure !== undefined) throw this.#failure;
    if (records.length === 0) return [];
    const payloadCrcs: number[] = [];
    let bytes = 0;
    for (const record of records) {
      this.#validate(record);
      payloadCrcs.push(payloadCrc(record.payload));
      bytes += RECORD_HEADER_BYTES + record.payload.byteLength;
    }
    const firstSequence = this.#nextSequence;
    this.#nextSequence += records.length;
    this.#stats.appends++;
    await this.#queue.enqueue({ firstSequence, records, payloadCrcs, bytes });
    return records.map((_, i) => firstSequence + i);
  }

  read(fromSequence: number): AsyncIterable<WalRecord> {
    if (!Number.isFinite(fromSequence))
      throw new RangeError(`fromSequence must be a number, got ${fromSequence}`);
    return readLog(this.#catalog, fromSequence, {
      chunkBytes: this.#readChunkBytes,
      checkOpen: () => {
        if (this.#closed) throw new WalClosedError(this.shardId);
      },
      onFinish: () => this.#resumeDeferredTruncation(),
    });
  }

  async truncateBelow(sequence: number): Promise<void> {
    if (this.#closing !== undefined) throw new WalClosedError(this.shardId);
    this.#truncateTarget = Math.max(this.#truncateTarget, sequence);
    await this.#runMaintenance(() => this.#deleteSegmentsBelowTarget());
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    try {
      await this.#queue.whenIdle();
      await this.#maintenance;
      await this.#activeHandle.close();
    } finally {
      this.#closed = true;
      this.#onClose?.();
    }
  }

  #validate(record: WalAppend): void {
    for (const field of ["tableId", "shardVersion"] as const) {
      const value = record[field];
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new InvalidWalAppendError(
          this.shardId,
          field,
          `must be a non-negative safe integer, got ${value}`,
        );
      }
    }
    if (!(record.payload instanceof Uint8Array)) {
      throw new InvalidWalAppendError(this.shardId, "payload", "must be a Uint8Array");
    }
    if (record.payload.byteLength > MAX_PAYLOAD_BYTES) {
      throw new InvalidWalAppendError(this.shardId, "payload", `is larger than ${MAX_PAYLOAD_BYTES} bytes`);
    }
  }

  /** Writes one group with one write and one sync, rolling the segment first if it is full. */
  async #commit(group: readonly PendingAppend[]): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    const bytes = group.reduce((sum, pending) => sum + pending.bytes, 0);
    let active = this.#catalog.active;
    try {
      if (active.endSequence > active.firstSequence && active.durableEnd + bytes > this.#segmentBytes) {
        await this.#roll();
        active = this.#catalog.active;
      }
      if (group[0]!.firstSequence !== active.endSequence) {
        throw new Error(
          `group starts at sequence ${group[0]!.firstSequence}, log ends at ${active.endSequence}`,
        );
      }
      const { pieces, recordOffsets } = encodeGroup(group, active.durableEnd);
      await writeAll(this.#activeHandle, pieces, bytes, active.durableEnd);
      await this.#activeHandle.datasync();
      this.#stats.syncs++;
      for (let i = 0; i < recordOffsets.length; i++) {
        active.addCheckpoint(active.endSequence + i, recordOffsets[i]!);
      }
      active.durableEnd += bytes;
      active.endSequence += recordOffsets.length;
      this.#stats.groups++;
      this.#stats.records += recordOffsets.length;
      this.#stats.bytesWritten += bytes;
    } catch (error) {
      this.#failure = new WalWriteError(this.shardId, active.path, error);
      this.#logger.error(
        { err: error, file: active.path },
        "WAL write failed; no more appends until reopened",
      );
      throw this.#failure;
    }
  }

  async #roll(): Promise<void> {
    const previous = this.#catalog.active;
    const { path, handle } = await createSegmentFile(this.directory, {
      firstSequence: previous.endSequence,
      previousFirstSequence: previous.firstSequence,
    });
    const previousHandle = this.#activeHandle;
    this.#catalog.roll(
      new SegmentState(
        previous.endSequence,
        path,
        SEGMENT_HEADER_BYTES,
        previous.endSequence,
        false,
        SEGMENT_HEADER_BYTES,
      ),
    );
    this.#activeHandle = handle;
    this.#stats.segmentsCreated++;
    // Everything written to it has been synced; a failure to close loses nothing.
    await previousHandle.close().catch((error: unknown) => {
      this.#logger.warn({ err: error, file: previous.path }, "closing a sealed WAL segment failed");
    });
  }

  /** Runs `task` after every earlier maintenance task; a failure does not stop later ones. */
  #runMaintenance(task: () => Promise<void>): Promise<void> {
    const run = this.#maintenance.then(task);
    this.#maintenance = run.catch(() => undefined);
    return run;
  }

  async #deleteSegmentsBelowTarget(): Promise<void> {
    for (;;) {
      const segment = this.#catalog.takeDeletable(this.#truncateTarget);
      if (segment === undefined) return;
      await deleteSegmentFile(this.directory, segment.path);
      this.#stats.segmentsDeleted++;
    }
  }

  /** Deletes segments a truncation had to leave because a reader was on them. */
  #resumeDeferredTruncation(): void {
    if (this.#closing !== undefined || this.#catalog.hasPins) return;
    const second = this.#catalog.segments[1];
    if (second === undefined || second.firstSequence > this.#truncateTarget) return;
    this.#runMaintenance(() => this.#deleteSegmentsBelowTarget()).catch((error: unknown) => {
      this.#logger.warn({ err: error, directory: this.directory }, "deleting truncated WAL segments failed");
    });
  }
}

/**
 * Lays a group out as buffers for one vectored write: headers and small payloads are copied into
 * one staging buffer, large payloads are referenced. Returns the file offset of each record.
 */
function encodeGroup(
  group: readonly PendingAppend[],
  startOffset: number,
): { pieces: Uint8Array[]; recordOffsets: number[] } {
  let stagingBytes = 0;
  for (const pending of group) {
    for (const record of pending.records) {
      const length = record.payload.byteLength;
      stagingBytes += RECORD_HEADER_BYTES + (length < COPY_PAYLOAD_BELOW_BYTES ? length : 0);
    }
  }
  const staging = Buffer.allocUnsafe(stagingBytes);
  const pieces: Uint8Array[] = [];
  const recordOffsets: number[] = [];
  let runStart = 0;
  let position = 0;
  let fileOffset = startOffset;
  let groupIndex = 0;
  for (const pending of group) {
    for (let i = 0; i < pending.records.length; i++) {
      const record = pending.records[i]!;
      const payload = record.payload;
      recordOffsets.push(fileOffset);
      writeRecordHeader(
        staging,
        position,
        {
          sequence: pending.firstSequence + i,
          tableId: record.tableId,
          shardVersion: record.shardVersion,
          payloadLength: payload.byteLength,
          groupIndex,
        },
        pending.payloadCrcs[i]!,
      );
      position += RECORD_HEADER_BYTES;
      if (payload.byteLength < COPY_PAYLOAD_BELOW_BYTES) {
        staging.set(payload, position);
        position += payload.byteLength;
      } else {
        pieces.push(staging.subarray(runStart, position), payload);
        runStart = position;
      }
      fileOffset += RECORD_HEADER_BYTES + payload.byteLength;
      groupIndex++;
    }
  }
  if (position > runStart) pieces.push(staging.subarray(runStart, position));
  return { pieces, recordOffsets };
}

/** Writes all of `pieces` at `position`, continuing after short writes. */
async function writeAll(
  handle: FileHandle,
  pieces: Uint8Array[],
  bytes: number,
  position: number,
): Promise<void> {
  let remaining = pieces;
  let written = 0;
  while (written < bytes) {
    const { bytesWritten } = await handle.writev(remaining, position + written);
    if (bytesWritten <= 0) throw new Error(`short write at offset ${position + written}`);
    written += bytesWritten;
    if (written >= bytes) break;
    // Drop what was written and continue from the first partly written piece.
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const piece of remaining) {
      if (skip >= piece.byteLength) {
        skip -= piece.byteLength;
      } else {
        rest.push(skip > 0 ? piece.subarray(skip) : piece);
        skip = 0;
      }
    }
    remaining = rest;
  }
}
