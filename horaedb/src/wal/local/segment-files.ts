import { open, readdir, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import {
  decodeSegmentHeader,
  encodeSegmentHeader,
  parseSegmentFileName,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
  TEMP_SUFFIX,
  type SegmentHeader,
} from "./record-format.js";
import { WalCorruptionError } from "./errors.js";

/** Makes directory entries (creations, renames, deletions) in `directory` durable. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface SegmentDirectoryListing {
  /** First sequences of the segment files, ascending. */
  readonly firstSequences: number[];
  /** Leftovers of segment creations that did not finish (never hold acknowledged records). */
  readonly tempFiles: string[];
  /** Names that are neither. */
  readonly unknownFiles: string[];
}

export async function listSegmentDirectory(directory: string): Promise<SegmentDirectoryListing> {
  const firstSequences: number[] = [];
  const tempFiles: string[] = [];
  const unknownFiles: string[] = [];
  for (const name of await readdir(directory)) {
    const first = parseSegmentFileName(name);
    if (first !== undefined) firstSequences.push(first);
    else if (
      name.endsWith(TEMP_SUFFIX) &&
      parseSegmentFileName(name.slice(0, -TEMP_SUFFIX.length)) !== undefined
    ) {
      tempFiles.push(name);
    } else unknownFiles.push(name);
  }
  firstSequences.sort((a, b) => a - b);
  return { firstSequences, tempFiles, unknownFiles };
}

/** Reads and checks the header of an existing segment file; returns it with the file's size. */
export async function readSegmentHeader(
  path: string,
  expectedFirstSequence: number,
): Promise<{ header: SegmentHeader; size: number }> {
  const handle = await open(path, "r");
  try {
    const size = (await handle.stat()).size;
    const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const { bytesRead } = await handle.read(bytes, 0, SEGMENT_HEADER_BYTES, 0);
    const header = decodeSegmentHeader(bytes.subarray(0, bytesRead));
    if (typeof header === "string") throw new WalCorruptionError(path, 0, header);
    if (header.firstSequence !== expectedFirstSequence) {
      throw new WalCorruptionError(
        path,
        8,
        `file header says the segment starts at sequence ${header.firstSequence}, its name says ${expectedFirstSequence}`,
      );
    }
    return { header, size };
  } finally {
    await handle.close();
  }
}

/**
 * Creates a segment file holding only its header, atomically: the header is written and synced
 * under a temporary name, then renamed into place and the directory synced. A file with a segment
 * name therefore always has a complete header, and records synced into it cannot be lost to a
 * directory entry that was never made durable. Returns the file open for writing.
 */
export async function createSegmentFile(
  directory: string,
  header: SegmentHeader,
): Promise<{ path: string; handle: FileHandle }> {
  const path = join(directory, segmentFileName(header.firstSequence));
  const tempPath = path + TEMP_SUFFIX;
  const handle = await open(tempPath, "w+");
  try {
    const bytes = encodeSegmentHeader(header);
    let written = 0;
    while (written < bytes.byteLength) {
      written += (await handle.write(bytes, written, bytes.byteLength - written, written)).bytesWritten;
    }
    await handle.sync();
    await rename(tempPath, path);
    await syncDirectory(directory);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(tempPath).catch(() => undefined);
    throw error;
  }
  return { path, handle };
}

/** Deletes a segment file and makes the deletion durable before returning. */
export async function deleteSegmentFile(directory: string, path: string): Promise<void> {
  await unlink(path);
  // Synced one at a time so that, after a crash, the deleted segments are always a prefix.
  await syncDirectory(directory);
}
