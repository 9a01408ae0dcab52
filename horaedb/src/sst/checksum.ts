/**
 * Whole-file CRC32C of an SST, stored inside the file itself.
 *
 * The embedded SstMeta JSON ends with `"crc32c":"00000000"}`. After Parquet encoding, the CRC32C
 * of the entire file (placeholder included) is computed and the 8 hex digits are written over the
 * placeholder: same length, and a Thrift string is raw bytes, so the footer stays valid. To verify,
 * the same CRC is computed with those 8 bytes read as the placeholder.
 *
 * This lets a reader reject any damaged file (truncation, bit flips in pages or footer) before
 * parquet-wasm sees it: corrupt input can make parquet-wasm trap, which leaves its instance unusable.
 */
import { crc32c } from "@node-rs/crc32";
import { CRC_PLACEHOLDER } from "./sst-meta.js";

const MAGIC = Buffer.from("PAR1", "latin1");
const MARKER = Buffer.from('"crc32c":"', "latin1");
const PLACEHOLDER = Buffer.from(CRC_PLACEHOLDER, "latin1");
const HEX_DIGITS = 8;

/** Where the checksum digits are, or why they cannot be found. */
type DigitsLocation = { readonly offset: number } | { readonly problem: string };

/**
 * Finds the checksum digits: inside the footer (the last `8 + footerLength` bytes), after the last
 * marker. The marker cannot occur earlier inside our JSON (its strings are escaped), and the
 * Parquet fields after key-value metadata hold no such text.
 */
function locateDigits(file: Uint8Array): DigitsLocation {
  const n = file.length;
  if (n < 12) return { problem: `file is ${n} bytes, too short for Parquet` };
  const buf = Buffer.from(file.buffer, file.byteOffset, n);
  if (!buf.subarray(0, 4).equals(MAGIC)) return { problem: "no PAR1 magic at the start" };
  if (!buf.subarray(n - 4).equals(MAGIC)) return { problem: "no PAR1 magic at the end (truncated?)" };
  const footerLength = buf.readUInt32LE(n - 8);
  const footerStart = n - 8 - footerLength;
  if (footerStart < 4) return { problem: `footer length ${footerLength} does not fit in ${n} bytes` };
  const at = buf.lastIndexOf(MARKER, n - 8);
  if (at < footerStart) return { problem: "footer has no SST checksum" };
  const offset = at + MARKER.length;
  if (offset + HEX_DIGITS + 1 > n - 8 || buf[offset + HEX_DIGITS] !== 0x22) {
    return { problem: "SST checksum field is malformed" };
  }
  return { offset };
}

function crcWithPlaceholder(file: Uint8Array, offset: number): number {
  let crc = crc32c(file.subarray(0, offset));
  crc = crc32c(PLACEHOLDER, crc);
  return crc32c(file.subarray(offset + HEX_DIGITS), crc);
}

function hex(crc: number): string {
  return (crc >>> 0).toString(16).padStart(HEX_DIGITS, "0");
}

/**
 * Computes the checksum of a freshly encoded file and writes it over the placeholder, in place.
 * Returns the 8 hex digits.
 */
export function sealChecksum(file: Uint8Array): string {
  const where = locateDigits(file);
  if ("problem" in where) throw new Error(`cannot seal SST checksum: ${where.problem}`);
  const stored = Buffer.from(file.buffer, file.byteOffset + where.offset, HEX_DIGITS);
  if (!stored.equals(PLACEHOLDER)) throw new Error("cannot seal SST checksum: placeholder not found");
  const digits = hex(crcWithPlaceholder(file, where.offset));
  file.set(Buffer.from(digits, "latin1"), where.offset);
  return digits;
}

export type ChecksumVerdict =
  { readonly ok: true; readonly crc32c: string } | { readonly ok: false; readonly problem: string };

/** Checks the file against the checksum stored in it. */
export function verifyChecksum(file: Uint8Array): ChecksumVerdict {
  const where = locateDigits(file);
  if ("problem" in where) return { ok: false, problem: where.problem };
  const stored = Buffer.from(file.buffer, file.byteOffset + where.offset, HEX_DIGITS).toString("latin1");
  const actual = hex(crcWithPlaceholder(file, where.offset));
  if (stored !== actual)
    return { ok: false, problem: `checksum mismatch: file says ${stored}, content is ${actual}` };
  return { ok: true, crc32c: actual };
}
