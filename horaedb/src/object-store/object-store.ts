/**
 * Object storage as the engine sees it: immutable objects under string keys. Two implementations
 * (a local directory for standalone mode, S3 for clusters) pass the same contract tests.
 *
 * Keys are `/`-separated relative paths without a leading slash, e.g.
 * `defaultCluster/tables/42/sst/7.parquet` (design section 4).
 */
export interface ObjectMeta {
  readonly key: string;
  readonly size: number;
  /** Last modification time, ms since the epoch. */
  readonly lastModified: number;
}

export interface PutOptions {
  /** Fail with ObjectExistsError instead of overwriting an existing object. */
  readonly ifNotExists?: boolean;
}

export interface ObjectStore {
  /** Writes the whole object atomically: readers see the old object, nothing, or the new one. */
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<void>;
  /** Reads the whole object; throws ObjectNotFoundError if absent. */
  get(key: string): Promise<Uint8Array>;
  /** Reads bytes [start, end) of the object; throws ObjectNotFoundError if absent. */
  getRange(key: string, start: number, end: number): Promise<Uint8Array>;
  /** Size and time of the object, or undefined if absent. */
  head(key: string): Promise<ObjectMeta | undefined>;
  /** Every object whose key starts with `prefix`, in lexicographic key order. */
  list(prefix: string): AsyncIterable<ObjectMeta>;
  /** Deletes the object; deleting an absent object is not an error. */
  delete(key: string): Promise<void>;
  /** Releases connections and handles. */
  close(): Promise<void>;
}
