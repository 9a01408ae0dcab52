export { PROTO_ROOT, ProtoRootNotFoundError } from "./proto-root.js";
export {
  PROTO_FILES,
  PROTO_LOADER_OPTIONS,
  ProtoLoadError,
  loadMetaEventProto,
  loadMetaProto,
  loadStorageProto,
  metaEventServiceDefinition,
  metaServiceDefinition,
  storageServiceDefinition,
} from "./loader.js";
export type { MetaEventProtoGrpcType, MetaProtoGrpcType, StorageProtoGrpcType } from "./loader.js";
export { RETRYABLE_STATUS_CODES, StatusCode, isRetryableStatus } from "./status.js";

// Generated message, enum and service types, one namespace per proto package. For each message `M`:
// `M` is the form accepted when sending (optional fields, 64-bit integers as number | string | Long) and
// `M__Output` the form received (defaults filled in, 64-bit integers as strings, enums as names). For
// each service `S`: `SClient`, `SHandlers` (server implementation) and `SDefinition`.
export * as common from "./generated/horaedb/common/v1/index.js";
export * as storage from "./generated/horaedb/storage/v1/index.js";
export * as meta from "./generated/horaedb/meta/v1/index.js";
export * as metaEvent from "./generated/horaedb/meta_event/v1/index.js";
export {
  DEFAULT_ZSTD_LEVEL,
  ZstdPayloadError,
  loadZstd,
  zstdCompress,
  zstdDecompress,
  zstdFrameContentSize,
  zstdLoaded,
} from "./zstd.js";
