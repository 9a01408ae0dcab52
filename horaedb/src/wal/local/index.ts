export {
  InvalidWalAppendError,
  WalAlreadyOpenError,
  WalClosedError,
  WalCorruptionError,
  WalWriteError,
} from "./errors.js";
export {
  DEFAULT_READ_CHUNK_BYTES,
  DEFAULT_SEGMENT_BYTES,
  LocalShardWal,
  type LocalShardWalOptions,
  type LocalWalStats,
} from "./local-shard-wal.js";
export { LocalWalManager, type LocalWalManagerOptions } from "./local-wal-manager.js";
export {
  decodeRecord,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  parseSegmentFileName,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
  type DecodedRecord,
  type SegmentHeader,
} from "./record-format.js";
