import type { FileHandle } from "node:fs/promises";
import type { WalRecord } from "../wal.js";
import { decodeRecordHeader, payloadCrc, RECORD_HEADER_BYTES, recordCrc } from "./record-format.js";

export type ScanStep =
  | {
      readonly kind: "record";
      readonly record: WalRecord;
      readonly groupIndex: number;
      /** Byte offset of the record header. */
      readonly offset: number;
      /** Offset one past the record. */
      readonly end: number;
    }
  /** The scan reached the limit exactly, at a record boundary. */
  | { readonly kind: "end"; readonly offset: number }
  /** The bytes at `offset` are not a complete, valid record. */
  | { readonly kind: "invalid"; readonly offset: number; readonly reason: string };

/**
 * Reads the records of one segment file front to back, a chunk at a time, checking each record's
 * header and CRC. It stops at `limit()` (re-read before every file read, so a scan of the active
 * segment sees records that became durable after it started).
 *
 * A yielded payload is a view into a chunk that is never reused, so it stays valid after the scan
 * moves on; memory held is one chunk plus whatever payloads the caller keeps.
 */
export class SegmentScanner {
  readonly #file: FileHandle;
  readonly #limit: () => number;
  readonly #chunkBytes: number;
  #chunk: Buffer = Buffer.alloc(0);
  /** File offset of `#chunk[0]`. */
  #chunkStart: number;
  /** File offset of the next record. */
  #offset: number;

  constructor(file: FileHandle, startOffset: number, limit: () => number, chunkBytes: number) {
    this.#file = file;
    this.#limit = limit;
    this.#chunkBytes = chunkBytes;
    this.#chunkStart = startOffset;
    this.#offset = startOffset;
  }

  /** File offset of the next record to be scanned. */
  get offset(): number {
    return this.#offset;
  }

  async next(): Promise<ScanStep> {
    const offset = this.#offset;
    if (offset >= this.#limit()) return { kind: "end", offset };
    if (!(await this.#ensure(RECORD_HEADER_BYTES))) {
      return { kind: "invalid", offset, reason: "short record header" };
    }
    const headerAt = offset - this.#chunkStart;
    const header = decodeRecordHeader(this.#chunk, headerAt);
    if (typeof header === "string") return { kind: "invalid", offset, reason: header };
    const length = RECORD_HEADER_BYTES + header.payloadLength;
    if (!(await this.#ensure(length))) {
      return {
        kind: "invalid",
        offset,
        reason: `short record payload (header says ${header.payloadLength} bytes)`,
      };
    }
    // #ensure may have moved the record to a new chunk.
    const at = offset - this.#chunkStart;
    const payload = this.#chunk.subarray(at + RECORD_HEADER_BYTES, at + length);
    if (recordCrc(this.#chunk, at, payloadCrc(payload)) !== header.crc) {
      return { kind: "invalid", offset, reason: "record checksum mismatch" };
    }
    this.#offset = offset + length;
    return {
      kind: "record",
      record: {
        sequence: header.sequence,
        tableId: header.tableId,
        shardVersion: header.shardVersion,
        payload,
      },
      groupIndex: header.groupIndex,
      offset,
      end: this.#offset,
    };
  }

  /**
   * Makes `bytes` bytes from the current offset available in the chunk, reading a new chunk if
   * needed. Returns false when the limit or the end of the file comes first.
   */
  async #ensure(bytes: number): Promise<boolean> {
    const start = this.#offset;
    const buffered = this.#chunkStart + this.#chunk.byteLength - start;
    if (buffered >= bytes) return true;
    const available = this.#limit() - start;
    if (available < bytes) return false;
    const size = Math.min(available, Math.max(bytes, this.#chunkBytes));
    const chunk = Buffer.allocUnsafe(size);
    const carried = Math.max(0, buffered);
    if (carried > 0) this.#chunk.copy(chunk, 0, start - this.#chunkStart);
    let filled = carried;
    while (filled < size) {
      const { bytesRead } = await this.#file.read(chunk, filled, size - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    this.#chunk = filled === size ? chunk : chunk.subarray(0, filled);
    this.#chunkStart = start;
    return filled >= bytes;
  }
}
