export type { ObjectMeta, ObjectStore, PutOptions } from "./object-store.js";
export {
  InvalidObjectKeyError,
  InvalidRangeError,
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectStoreError,
  ObjectStoreOperationError,
} from "./errors.js";
export {
  compareKeys,
  MAX_KEY_BYTES,
  MAX_SEGMENT_BYTES,
  RESERVED_SEGMENT_PREFIX,
  validateListPrefix,
  validateObjectKey,
} from "./object-key.js";
export { LocalObjectStore, type LocalObjectStoreOptions } from "./local-object-store.js";
export { S3ObjectStore, type S3ObjectStoreOptions } from "./s3-object-store.js";
export {
  CachedObjectStore,
  type CachedObjectStoreOptions,
  type ObjectCacheStats,
} from "./cached-object-store.js";
