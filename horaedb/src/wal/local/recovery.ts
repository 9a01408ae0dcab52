/**
 * Opening a shard's log directory after a clean shutdown or a crash.
 *
 * What a crash can leave behind, and what is done about it:
 * - A `*.wal.tmp` file: a segment creation that never finished. It never held records; deleted.
 * - Missing segments at the front: a truncation that stopped part way (segments are deleted oldest
 *   first, each deletion synced). Accepted.
 * - A torn final write group at the end of the last segment: a group that was being written when
 *   the process died and was therefore never acknowledged. Its surviving bytes may be a prefix, or
 *   (after a power loss, with pages written back out of order) any mix of written and unwritten
 *   pages. The file is cut back to the end of the last valid record before the damage, with a
 *   warning naming the file and offset.
 *
 * Anything else is corruption of acknowledged data and raises `WalCorruptionError`: a bad file
 * header, a segment missing between two others (every file header names the first sequence of the
 * segment before it), damage in a sealed segment (groups never span segments, and a segment is
 * sealed only after its last group was synced), and damage in the last segment that is followed by
 * a valid record of a later write group - that group was written only after the damaged one had
 * been synced and acknowledged.
 */
import { open, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { WalCorruptionError } from "./errors.js";
import {
  decodeRecordHeader,
  RECORD_HEADER_BYTES,
  RECORD_MAGIC_BYTES,
  recordCrc,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
} from "./record-format.js";
import { SegmentState } from "./segment-catalog.js";
import {
  createSegmentFile,
  listSegmentDirectory,
  readSegmentHeader,
  syncDirectory,
} from "./segment-files.js";
import { SegmentScanner } from "./segment-scanner.js";
import { crc32c } from "@node-rs/crc32";

export interface RecoveryOptions {
  readonly logger: Logger;
  /** "tail" scans only the last segment; "full" also checks every record of the sealed segments. */
  readonly verify: "tail" | "full";
  readonly chunkBytes: number;
}

export interface RecoveredLog {
  /** Ascending; the last one is the active segment. */
  readonly segments: SegmentState[];
  /** The active segment, open for writing. */
  readonly activeHandle: FileHandle;
}

export async function recoverLog(directory: string, options: RecoveryOptions): Promise<RecoveredLog> {
  const { logger } = options;
  const listing = await listSegmentDirectory(directory);
  for (const name of listing.tempFiles) {
    logger.info({ file: join(directory, name) }, "deleting an unfinished WAL segment file");
    await unlink(join(directory, name));
  }
  if (listing.tempFiles.length > 0) await syncDirectory(directory);
  for (const name of listing.unknownFiles) {
    logger.warn(
      { file: join(directory, name) },
      "ignoring a file in the WAL directory that is not a segment",
    );
  }

  const firsts = listing.firstSequences;
  if (firsts.length === 0) {
    const { path, handle } = await createSegmentFile(directory, {
      firstSequence: 0,
      previousFirstSequence: undefined,
    });
    return {
      segments: [new SegmentState(0, path, SEGMENT_HEADER_BYTES, 0, false, SEGMENT_HEADER_BYTES)],
      activeHandle: handle,
    };
  }

  const segments: SegmentState[] = [];
  for (let i = 0; i < firsts.length; i++) {
    const first = firsts[i]!;
    const path = join(directory, segmentFileName(first));
    const { header, size } = await readSegmentHeader(path, first);
    if (i > 0 && header.previousFirstSequence !== firsts[i - 1]) {
      throw new WalCorruptionError(
        path,
        16,
        `the segment before this one started at sequence ${header.previousFirstSequence ?? "(none)"}, but the ` +
          `preceding segment file starts at ${firsts[i - 1]}: a segment in the middle of the log is missing`,
      );
    }
    const next = firsts[i + 1];
    if (next !== undefined) {
      const segment = new SegmentState(first, path, size, next, true, SEGMENT_HEADER_BYTES);
      if (options.verify === "full") await verifySealedSegment(segment, options.chunkBytes);
      segments.push(segment);
    } else {
      const { segment, handle } = await recoverLastSegment(path, first, size, options);
      segments.push(segment);
      return { segments, activeHandle: handle };
    }
  }
  throw new Error("unreachable: the loop returns at the last segment");
}

/** Checks every record of a sealed segment; it must end exactly where the next segment starts. */
async function verifySealedSegment(segment: SegmentState, chunkBytes: number): Promise<void> {
  const handle = await open(segment.path, "r");
  try {
    const scanner = new SegmentScanner(handle, SEGMENT_HEADER_BYTES, () => segment.durableEnd, chunkBytes);
    let expected = segment.firstSequence;
    for (;;) {
      const step = await scanner.next();
      if (step.kind === "invalid") throw new WalCorruptionError(segment.path, step.offset, step.reason);
      if (step.kind === "end") break;
      const problem = sequenceProblem(step.record.sequence, step.groupIndex, expected, segment.firstSequence);
      if (problem !== undefined) throw new WalCorruptionError(segment.path, step.offset, problem);
      segment.addCheckpoint(expected, step.offset);
      expected++;
    }
    if (expected !== segment.endSequence) {
      throw new WalCorruptionError(
        segment.path,
        segment.durableEnd,
        `segment ends before sequence ${expected} but the next segment starts at ${segment.endSequence}`,
      );
    }
  } finally {
    await handle.close();
  }
}

function sequenceProblem(
  sequence: number,
  groupIndex: number,
  expected: number,
  segmentFirst: number,
): string | undefined {
  if (sequence !== expected) return `record has sequence ${sequence}, expected ${expected}`;
  if (sequence - groupIndex < segmentFirst) return `write group index ${groupIndex} out of range`;
  return undefined;
}

async function recoverLastSegment(
  path: string,
  first: number,
  size: number,
  options: RecoveryOptions,
): Promise<{ segment: SegmentState; handle: FileHandle }> {
  const handle = await open(path, "r+");
  try {
    const segment = new SegmentState(first, path, SEGMENT_HEADER_BYTES, first, false, SEGMENT_HEADER_BYTES);
    const scanner = new SegmentScanner(handle, SEGMENT_HEADER_BYTES, () => size, options.chunkBytes);
    let damage: { offset: number; reason: string } | undefined;
    for (;;) {
      const step = await scanner.next();
      if (step.kind === "end") break;
      if (step.kind === "invalid") {
        damage = step;
        break;
      }
      const problem = sequenceProblem(step.record.sequence, step.groupIndex, segment.endSequence, first);
      if (problem !== undefined) {
        damage = { offset: step.offset, reason: problem };
        break;
      }
      segment.addCheckpoint(step.record.sequence, step.offset);
      segment.endSequence++;
      segment.durableEnd = step.end;
    }
    if (damage !== undefined) {
      const later = await findRecordOfLaterGroup(handle, damage.offset + 1, size, segment.endSequence);
      if (later !== undefined) {
        throw new WalCorruptionError(
          path,
          damage.offset,
          `${damage.reason}; a valid record of a later write group (sequence ${later.sequence}) follows at ` +
            `offset ${later.offset}`,
        );
      }
      await handle.truncate(segment.durableEnd);
      await handle.sync();
      options.logger.warn(
        {
          file: path,
          offset: damage.offset,
          reason: damage.reason,
          truncatedTo: segment.durableEnd,
          droppedBytes: size - segment.durableEnd,
        },
        "cut off a torn write at the end of the WAL (never acknowledged)",
      );
    }
    return { segment, handle };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Searches `[from, size)` for a complete record with a valid checksum whose write group started
 * after `sequence` (the sequence the damaged record should have had). Returns the first such record.
 */
async function findRecordOfLaterGroup(
  handle: FileHandle,
  from: number,
  size: number,
  sequence: number,
): Promise<{ offset: number; sequence: number } | undefined> {
  const windowBytes = 4 * 1024 * 1024;
  const window = Buffer.allocUnsafe(windowBytes);
  let position = from;
  while (position + RECORD_HEADER_BYTES <= size) {
    const length = Math.min(windowBytes, size - position);
    const bytes = await readFully(handle, window.subarray(0, length), position);
    let index = bytes.indexOf(RECORD_MAGIC_BYTES);
    while (index >= 0) {
      const found = await validRecordAt(handle, position + index, size);
      if (found !== undefined && found.sequence - found.groupIndex > sequence) {
        return { offset: position + index, sequence: found.sequence };
      }
      index = bytes.indexOf(RECORD_MAGIC_BYTES, index + 1);
    }
    if (position + length >= size) break;
    // Overlap by the magic's length less one, so a magic split across windows is still found.
    position += length - (RECORD_MAGIC_BYTES.byteLength - 1);
  }
  return undefined;
}

async function validRecordAt(
  handle: FileHandle,
  offset: number,
  size: number,
): Promise<{ sequence: number; groupIndex: number } | undefined> {
  if (offset + RECORD_HEADER_BYTES > size) return undefined;
  const headerBytes = await readFully(handle, Buffer.allocUnsafe(RECORD_HEADER_BYTES), offset);
  const header = decodeRecordHeader(headerBytes, 0);
  if (typeof header === "string") return undefined;
  const payloadStart = offset + RECORD_HEADER_BYTES;
  if (payloadStart + header.payloadLength > size) return undefined;
  // The payload may be large: checksum it a piece at a time.
  const piece = Buffer.allocUnsafe(Math.min(header.payloadLength, 1024 * 1024));
  let crc = 0;
  for (let done = 0; done < header.payloadLength;) {
    const length = Math.min(piece.byteLength, header.payloadLength - done);
    crc = crc32c(await readFully(handle, piece.subarray(0, length), payloadStart + done), crc);
    done += length;
  }
  if (recordCrc(headerBytes, 0, crc) !== header.crc) return undefined;
  return { sequence: header.sequence, groupIndex: header.groupIndex };
}

/** Reads `target.byteLength` bytes at `position`, or fewer at the end of the file. */
async function readFully(handle: FileHandle, target: Buffer, position: number): Promise<Buffer> {
  let filled = 0;
  while (filled < target.byteLength) {
    const { bytesRead } = await handle.read(target, filled, target.byteLength - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return target.subarray(0, filled);
}
