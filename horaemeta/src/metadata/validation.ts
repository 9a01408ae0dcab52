/** Checks of request fields; each failure is an InvalidMetadataRequestError naming the field. */
import { InvalidMetadataRequestError } from "./errors.js";

export function requireName(field: string, value: string): void {
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidMetadataRequestError(field, "must be a non-empty string");
  }
}

export function requireInteger(
  field: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidMetadataRequestError(field, `must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/** Rejects repeated values; `label` turns a value into text for the message. */
export function requireDistinct<T>(
  field: string,
  values: readonly T[],
  label: (value: T) => string = String,
): void {
  const seen = new Set<T>();
  for (const value of values) {
    if (seen.has(value)) throw new InvalidMetadataRequestError(field, `${label(value)} appears twice`);
    seen.add(value);
  }
}
