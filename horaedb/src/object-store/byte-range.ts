import { InvalidRangeError } from "./errors.js";

/**
 * The getRange rules every ObjectStore follows:
 * - `start` and `end` must be safe integers with 0 <= start <= end, else InvalidRangeError;
 * - `end` past the end of the object is clamped to the object's size (like `Uint8Array.slice`);
 * - `start` equal to the size gives an empty result; `start` past the size is an InvalidRangeError,
 *   since reading there is always a caller's mistake (a wrong offset or a stale size).
 */
export function validateRangeBounds(key: string, start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end) {
    throw new InvalidRangeError(key, start, end);
  }
}

/** The byte count getRange returns for an object of `size` bytes; throws if `start` is past it. */
export function clampedRangeLength(key: string, start: number, end: number, size: number): number {
  if (start > size) throw new InvalidRangeError(key, start, end, size);
  return Math.min(end, size) - start;
}
