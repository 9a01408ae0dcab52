/**
 * On-disk format of the local WAL (format version 1). All integers are little-endian; 64-bit fields
 * hold non-negative integers below 2^53.
 *
 * Segment file `<firstSequence, 20 digits>.wal` = file header, then records back to back.
 *
 * File header (32 bytes):
 *   0  u32  magic "HWSG"
 *   4  u16  format version (1)
 *   6  u16  reserved (0)
 *   8  u64  first sequence: the sequence of the segment's first record (also its file name)
 *  16  u64  first sequence of the previous segment, or 2^64-1 for the shard's first segment ever;
 *           lets start-up tell a missing middle segment (corruption) from a truncated prefix
 *  24  u32  CRC32C of bytes 0..23
 *  28  u32  reserved (0)
 *
 * Record (44-byte header, then the payload):
 *   0  u32  magic "HWAL"
 *   4  u16  format version (1)
 *   6  u16  flags (0, reserved)
 *   8  u64  sequence (contiguous: each record is one more than the one before it)
 *  16  u64  table id
 *  24  u64  shard version
 *  32  u32  payload length
 *  36  u32  index of the record in the write group (one write + one fsync) that stored it; the
 *           group started at `sequence - groupIndex`. Start-up uses it to tell a torn final group
 *           from damage to a group that was acknowledged (see recovery.ts).
 *  40  u32  CRC32C of the payload followed by header bytes 0..39 (payload first, so the payload
 *           checksum can be computed when the append arrives, before its group is formed)
 *  44       payload
 */
import { crc32c } from "@node-rs/crc32";
import type { WalRecord } from "../wal.js";

export const FORMAT_VERSION = 1;

export const SEGMENT_MAGIC = 0x4753_5748; // "HWSG" as little-endian bytes
export const SEGMENT_HEADER_BYTES = 32;
/** Stored as the previous segment's first sequence when there is none. */
const NO_PREVIOUS_SEGMENT_HI = 0xffff_ffff;

export const RECORD_MAGIC = 0x4c41_5748; // "HWAL" as little-endian bytes
export const RECORD_HEADER_BYTES = 44;
/** The checksummed part of the record header (everything but the CRC itself). */
const RECORD_HEADER_CHECKED_BYTES = 40;
export const MAX_PAYLOAD_BYTES = 0xffff_ffff;

/** Little-endian magic bytes of a record, for searching raw bytes. */
export const RECORD_MAGIC_BYTES: Uint8Array = (() => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(RECORD_MAGIC, 0);
  return b;
})();

const TWO_TO_32 = 0x1_0000_0000;
/** The high 32-bit word of a u64 below 2^53 is below 2^21. */
const MAX_SAFE_HI = 0x20_0000;

function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_TO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_TO_32), true);
}

/** Reads a u64, or returns undefined when it does not fit in a safe integer. */
function readU64(view: DataView, offset: number): number | undefined {
  const hi = view.getUint32(offset + 4, true);
  if (hi >= MAX_SAFE_HI) return undefined;
  return hi * TWO_TO_32 + view.getUint32(offset, true);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Segment files

const SEGMENT_NAME = /^(\d{20})\.wal$/;
export const TEMP_SUFFIX = ".tmp";

export function segmentFileName(firstSequence: number): string {
  return `${String(firstSequence).padStart(20, "0")}.wal`;
}

/** The first sequence encoded in a segment file name, or undefined if it is not a segment name. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (match === null) return undefined;
  const value = Number(match[1]);
  return Number.isSafeInteger(value) ? value : undefined;
}

export interface SegmentHeader {
  readonly firstSequence: number;
  /** First sequence of the segment before this one, or undefined for the shard's first segment. */
  readonly previousFirstSequence: number | undefined;
}

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
  const view = viewOf(bytes);
  view.setUint32(0, SEGMENT_MAGIC, true);
  view.setUint16(4, FORMAT_VERSION, true);
  writeU64(view, 8, header.firstSequence);
  if (header.previousFirstSequence === undefined) {
    view.setUint32(16, NO_PREVIOUS_SEGMENT_HI, true);
    view.setUint32(20, NO_PREVIOUS_SEGMENT_HI, true);
  } else {
    writeU64(view, 16, header.previousFirstSequence);
  }
  view.setUint32(24, crc32c(bytes.subarray(0, 24)), true);
  return bytes;
}

/** Decodes a segment file header, or returns the reason it is not a valid one. */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader | string {
  if (bytes.byteLength < SEGMENT_HEADER_BYTES) {
    return `file header is ${bytes.byteLength} bytes, expected ${SEGMENT_HEADER_BYTES}`;
  }
  const view = viewOf(bytes);
  if (view.getUint32(0, true) !== SEGMENT_MAGIC) return "bad segment magic";
  const version = view.getUint16(4, true);
  if (version !== FORMAT_VERSION) return `unsupported segment format version ${version}`;
  if (view.getUint32(24, true) !== crc32c(bytes.subarray(0, 24))) return "segment header checksum mismatch";
  const firstSequence = readU64(view, 8);
  if (firstSequence === undefined) return "first sequence out of range";
  const noPrevious =
    view.getUint32(16, true) === NO_PREVIOUS_SEGMENT_HI &&
    view.getUint32(20, true) === NO_PREVIOUS_SEGMENT_HI;
  if (noPrevious) return { firstSequence, previousFirstSequence: undefined };
  const previousFirstSequence = readU64(view, 16);
  if (previousFirstSequence === undefined) return "previous segment sequence out of range";
  return { firstSequence, previousFirstSequence };
}

// ---------------------------------------------------------------------------------------------
// Records

export interface RecordHeader {
  readonly sequence: number;
  readonly tableId: number;
  readonly shardVersion: number;
  readonly payloadLength: number;
  readonly groupIndex: number;
  readonly crc: number;
}

/** The CRC of the payload alone; the record CRC continues from it over the header. */
export function payloadCrc(payload: Uint8Array): number {
  return crc32c(payload);
}

/**
 * Writes a record header at `target[offset..offset+44)`. `payloadChecksum` is `payloadCrc(payload)`.
 */
export function writeRecordHeader(
  target: Uint8Array,
  offset: number,
  fields: Omit<RecordHeader, "crc">,
  payloadChecksum: number,
): void {
  const header = target.subarray(offset, offset + RECORD_HEADER_BYTES);
  const view = viewOf(header);
  view.setUint32(0, RECORD_MAGIC, true);
  view.setUint16(4, FORMAT_VERSION, true);
  view.setUint16(6, 0, true);
  writeU64(view, 8, fields.sequence);
  writeU64(view, 16, fields.tableId);
  writeU64(view, 24, fields.shardVersion);
  view.setUint32(32, fields.payloadLength, true);
  view.setUint32(36, fields.groupIndex, true);
  view.setUint32(40, crc32c(header.subarray(0, RECORD_HEADER_CHECKED_BYTES), payloadChecksum), true);
}

/**
 * Decodes the fields of a record header without checking the CRC (that needs the payload), or
 * returns the reason the bytes are not a record header.
 */
export function decodeRecordHeader(bytes: Uint8Array, offset: number): RecordHeader | string {
  if (bytes.byteLength - offset < RECORD_HEADER_BYTES) return "short record header";
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, RECORD_HEADER_BYTES);
  if (view.getUint32(0, true) !== RECORD_MAGIC) return "bad record magic";
  const version = view.getUint16(4, true);
  if (version !== FORMAT_VERSION) return `unsupported record format version ${version}`;
  const flags = view.getUint16(6, true);
  if (flags !== 0) return `unknown record flags ${flags}`;
  const sequence = readU64(view, 8);
  const tableId = readU64(view, 16);
  const shardVersion = readU64(view, 24);
  if (sequence === undefined || tableId === undefined || shardVersion === undefined) {
    return "record header field out of range";
  }
  return {
    sequence,
    tableId,
    shardVersion,
    payloadLength: view.getUint32(32, true),
    groupIndex: view.getUint32(36, true),
    crc: view.getUint32(40, true),
  };
}

/** Continues a payload CRC over the checked header bytes at `headerBytes[offset..]`. */
export function recordCrc(headerBytes: Uint8Array, offset: number, payloadChecksum: number): number {
  return crc32c(headerBytes.subarray(offset, offset + RECORD_HEADER_CHECKED_BYTES), payloadChecksum);
}

/** Encodes one record (header + payload) into a new buffer. */
export function encodeRecord(record: WalRecord, groupIndex = 0): Buffer {
  const bytes = Buffer.allocUnsafe(RECORD_HEADER_BYTES + record.payload.byteLength);
  writeRecordHeader(
    bytes,
    0,
    {
      sequence: record.sequence,
      tableId: record.tableId,
      shardVersion: record.shardVersion,
      payloadLength: record.payload.byteLength,
      groupIndex,
    },
    payloadCrc(record.payload),
  );
  bytes.set(record.payload, RECORD_HEADER_BYTES);
  return bytes;
}

export interface DecodedRecord {
  readonly record: WalRecord;
  readonly groupIndex: number;
  /** Offset one past the record's last byte. */
  readonly end: number;
}

/**
 * Decodes and checks the record at `bytes[offset..]`, or returns the reason it is not a complete,
 * valid record. The payload is a view into `bytes`.
 */
export function decodeRecord(bytes: Uint8Array, offset: number): DecodedRecord | string {
  const header = decodeRecordHeader(bytes, offset);
  if (typeof header === "string") return header;
  const payloadStart = offset + RECORD_HEADER_BYTES;
  const end = payloadStart + header.payloadLength;
  if (end > bytes.byteLength) return "short record payload";
  const payload = bytes.subarray(payloadStart, end);
  if (recordCrc(bytes, offset, payloadCrc(payload)) !== header.crc) return "record checksum mismatch";
  return {
    record: {
      sequence: header.sequence,
      tableId: header.tableId,
      shardVersion: header.shardVersion,
      payload,
    },
    groupIndex: header.groupIndex,
    end,
  };
}
