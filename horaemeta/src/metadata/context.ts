import { decodeRecord, type MetadataRecordKind, type MetadataRecordTypes } from "./codec.js";
import type { EtcdKv, KvSnapshot } from "./etcd-kv.js";
import type { IdAllocators } from "./id-allocator.js";
import type { MetadataKeys } from "./keys.js";

/** What the parts of the store share: the etcd access, the key layout, id allocators and a clock. */
export interface StoreContext {
  readonly kv: EtcdKv;
  readonly keys: MetadataKeys;
  readonly ids: IdAllocators;
  /** Milliseconds since the Unix epoch, for the times stored in records. */
  readonly now: () => number;
}

/** The record of `kind` at `key` in `snapshot`, or undefined when the key is absent. */
export function recordAt<K extends MetadataRecordKind>(
  snapshot: KvSnapshot,
  kind: K,
  key: string,
): MetadataRecordTypes[K] | undefined {
  const entry = snapshot.get(key);
  return entry === undefined ? undefined : decodeRecord(kind, key, entry.value);
}
