import { InvalidObjectKeyError } from "./errors.js";

/**
 * Key rules shared by every ObjectStore, so that a key valid on one store is valid on all of them
 * (a local directory cannot hold `a/../b` or `a//b`, and S3 limits keys to 1024 bytes).
 */

/** Longest key, in UTF-8 bytes (S3's limit, before any store root prefix). */
export const MAX_KEY_BYTES = 1024;
/** Longest `/`-separated segment, in UTF-8 bytes (the file-name limit of common file systems). */
export const MAX_SEGMENT_BYTES = 255;
/** Segments starting with this are the local store's in-progress writes; keys may not use it. */
export const RESERVED_SEGMENT_PREFIX = ".horaedb-tmp-";

// A surrogate code unit that is not half of a pair has no UTF-8 encoding.
const LONE_SURROGATE = /\p{Cs}/u;

function checkCharacters(key: string): string | undefined {
  if (key.startsWith("/")) return "starts with '/'";
  if (key.includes("\\")) return "contains a backslash";
  if (hasControlCharacter(key)) return "contains a control character";
  if (LONE_SURROGATE.test(key)) return "contains an unpaired surrogate (not valid UTF-8)";
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} UTF-8 bytes`;
  return undefined;
}

function checkSegment(segment: string): string | undefined {
  if (segment === "") return "has an empty segment";
  if (segment === "." || segment === "..") return `has a '${segment}' segment`;
  if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) {
    return `has a segment starting with the reserved '${RESERVED_SEGMENT_PREFIX}'`;
  }
  if (Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES) {
    return `has a segment longer than ${MAX_SEGMENT_BYTES} UTF-8 bytes`;
  }
  return undefined;
}

/** Throws InvalidObjectKeyError unless `key` is a non-empty relative `/`-separated path. */
export function validateObjectKey(key: string): void {
  if (key === "") throw new InvalidObjectKeyError(key, "is empty");
  const reason = checkCharacters(key) ?? firstDefined(key.split("/"), checkSegment);
  if (reason !== undefined) throw new InvalidObjectKeyError(key, reason);
}

/**
 * Throws InvalidObjectKeyError unless `prefix` can begin a valid key. The empty prefix lists
 * everything; the part after the last `/` is a partial segment and may be anything a segment may
 * start with.
 */
export function validateListPrefix(prefix: string): void {
  if (prefix === "") return;
  const segments = prefix.split("/");
  const partial = segments.pop() ?? "";
  const reason =
    checkCharacters(prefix) ??
    firstDefined(segments, checkSegment) ??
    (partial.startsWith(RESERVED_SEGMENT_PREFIX) ? checkSegment(partial) : undefined);
  if (reason !== undefined) throw new InvalidObjectKeyError(prefix, reason);
}

/** True for names the local store uses for in-progress writes. */
export function isReservedSegment(name: string): boolean {
  return name.startsWith(RESERVED_SEGMENT_PREFIX);
}

/** Orders keys as S3 lists them: by their UTF-8 bytes (which is code point order). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** NUL cannot appear in a file name; the other control characters are refused with it for portability. */
function hasControlCharacter(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function firstDefined<T>(items: readonly T[], check: (item: T) => string | undefined): string | undefined {
  for (const item of items) {
    const result = check(item);
    if (result !== undefined) return result;
  }
  return undefined;
}
