/** Base class of every error an ObjectStore throws; `key` is the object key (or list prefix) at fault. */
export class ObjectStoreError extends Error {
  override readonly name: string = "ObjectStoreError";
  readonly key: string;

  constructor(message: string, key: string, options?: { cause?: unknown }) {
    super(message, options);
    this.key = key;
  }
}

/** get/getRange of a key that holds no object. */
export class ObjectNotFoundError extends ObjectStoreError {
  override readonly name: string = "ObjectNotFoundError";

  constructor(key: string, options?: { cause?: unknown }) {
    super(`object not found: ${JSON.stringify(key)}`, key, options);
  }
}

/** put with `ifNotExists` of a key that already holds an object. */
export class ObjectExistsError extends ObjectStoreError {
  override readonly name: string = "ObjectExistsError";

  constructor(key: string, options?: { cause?: unknown }) {
    super(`object already exists: ${JSON.stringify(key)}`, key, options);
  }
}

/** A key or list prefix that breaks the key rules of `object-key.ts`; `reason` says which. */
export class InvalidObjectKeyError extends ObjectStoreError {
  override readonly name: string = "InvalidObjectKeyError";
  readonly reason: string;

  constructor(key: string, reason: string, options?: { cause?: unknown }) {
    super(`invalid object key ${JSON.stringify(key)}: ${reason}`, key, options);
    this.reason = reason;
  }
}

/**
 * getRange with bounds that are not integers with 0 <= start <= end, or a start past the end of the
 * object (`size` is then the object's size).
 */
export class InvalidRangeError extends ObjectStoreError {
  override readonly name: string = "InvalidRangeError";
  readonly start: number;
  readonly end: number;
  readonly size: number | undefined;

  constructor(key: string, start: number, end: number, size?: number) {
    const what =
      size === undefined
        ? "bounds must be integers with 0 <= start <= end"
        : `start is past the end of the ${size}-byte object`;
    super(`invalid range [${start}, ${end}) of ${JSON.stringify(key)}: ${what}`, key);
    this.start = start;
    this.end = end;
    this.size = size;
  }
}

/** Any other failure of an operation (I/O error, S3 error after retries, timeout), with its cause. */
export class ObjectStoreOperationError extends ObjectStoreError {
  override readonly name: string = "ObjectStoreOperationError";
  /** The ObjectStore method that failed, e.g. "put" or "list". */
  readonly operation: string;

  constructor(operation: string, key: string, cause: unknown) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`${operation} ${JSON.stringify(key)} failed: ${detail}`, key, { cause });
    this.operation = operation;
  }
}
