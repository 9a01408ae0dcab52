/**
 * Errors of the table manifest. Each carries the manifest prefix (which names the table) and, where
 * one object is at fault, its key.
 */

/**
 * Another writer already committed the version this commit was about to write (or, for `create`, the
 * manifest already exists). The in-memory state is unchanged; the writer has probably lost its lease.
 */
export class ManifestConflictError extends Error {
  override readonly name = "ManifestConflictError";
  readonly prefix: string;
  readonly key: string;
  readonly version: number;

  constructor(prefix: string, key: string, version: number, detail: string) {
    super(`manifest ${prefix}: conflict at version ${version} (${key}): ${detail}`);
    this.prefix = prefix;
    this.key = key;
    this.version = version;
  }
}

/** A manifest object cannot be read back: unparsable, wrong version field, or inconsistent state. */
export class ManifestCorruptionError extends Error {
  override readonly name = "ManifestCorruptionError";
  readonly prefix: string;
  readonly key: string;
  readonly reason: string;

  constructor(prefix: string, key: string, reason: string, options?: { cause?: unknown }) {
    super(`manifest ${prefix}: corrupt object ${key}: ${reason}`, options);
    this.prefix = prefix;
    this.key = key;
    this.reason = reason;
  }
}

/**
 * An edit was rejected before anything was written: it breaks a manifest rule (flushed sequence
 * going back, schema version not increasing, unknown SST, ...) or is not serialisable.
 * `path` locates the offending part, e.g. `ops[1].sst.size`.
 */
export class ManifestEditError extends Error {
  override readonly name = "ManifestEditError";
  readonly prefix: string;
  readonly path: string;
  readonly reason: string;

  constructor(prefix: string, path: string, reason: string, options?: { cause?: unknown }) {
    super(`manifest ${prefix}: invalid edit at ${path}: ${reason}`, options);
    this.prefix = prefix;
    this.path = path;
    this.reason = reason;
  }
}

/**
 * Writing a manifest edit failed with an error other than a conflict. The put may or may not have
 * taken effect, so the edit may or may not be committed: callers must not delete objects the edit
 * refers to (an orphan is harmless, a dangling reference is not). The manifest re-reads its state
 * from object storage before its next commit.
 */
export class ManifestWriteError extends Error {
  override readonly name = "ManifestWriteError";
  readonly prefix: string;
  readonly key: string;
  readonly version: number;

  constructor(prefix: string, key: string, version: number, cause: unknown) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`manifest ${prefix}: writing version ${version} (${key}) has an unknown outcome: ${detail}`, {
      cause,
    });
    this.prefix = prefix;
    this.key = key;
    this.version = version;
  }
}

/**
 * Internal: manifest data (an edit about to be written, or an object read back) breaks a rule.
 * TableManifest turns it into ManifestEditError when committing and ManifestCorruptionError when
 * loading, adding the prefix and key.
 */
export class ManifestDataError extends Error {
  override readonly name = "ManifestDataError";
  readonly path: string;
  readonly reason: string;

  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`${path}: ${reason}`, options);
    this.path = path;
    this.reason = reason;
  }
}
