/**
 * Object names of a table manifest under its prefix `<cluster>/tables/<tableId>/manifest/`:
 * `edit-<version>.json` turns the state at version-1 into the state at version, and
 * `snapshot-<version>.json` holds the whole state at version. Versions are zero-padded to 20 digits so
 * that the store's lexicographic listing order is version order.
 */
const VERSION_DIGITS = 20;
const MANIFEST_OBJECT = /^(edit|snapshot)-(\d{20})\.json$/;

export type ManifestObjectKind = "edit" | "snapshot";

export interface ManifestObjectName {
  readonly kind: ManifestObjectKind;
  readonly version: number;
}

/** The prefix with exactly one trailing slash, so that `prefix + name` is the object key. */
export function normalizeManifestPrefix(prefix: string): string {
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
}

export function editKey(prefix: string, version: number): string {
  return `${prefix}edit-${padVersion(version)}.json`;
}

export function snapshotKey(prefix: string, version: number): string {
  return `${prefix}snapshot-${padVersion(version)}.json`;
}

/** Parses a key listed under `prefix`; keys that are not manifest objects give undefined. */
export function parseManifestKey(prefix: string, key: string): ManifestObjectName | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const match = MANIFEST_OBJECT.exec(key.slice(prefix.length));
  if (match === null) return undefined;
  const version = Number(match[2]);
  if (!Number.isSafeInteger(version)) return undefined;
  return { kind: match[1] as ManifestObjectKind, version };
}

function padVersion(version: number): string {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new RangeError(`manifest version must be a non-negative safe integer, got ${version}`);
  }
  return String(version).padStart(VERSION_DIGITS, "0");
}
