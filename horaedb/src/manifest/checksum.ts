/**
 * CRC32C trailer of a JSON object, shared by manifest objects and catalog entries.
 *
 * A sealed object is the JSON text of an object with its closing brace replaced by the fixed
 * 21-byte trailer `,"crc32c":"hhhhhhhh"}`, where `hhhhhhhh` is the CRC32C of every byte before the
 * trailer (the UTF-8 JSON text without its closing brace), as 8 lowercase hex digits. The result is
 * still one valid JSON object, with a last field `crc32c`.
 *
 * A reader checks the checksum before parsing: if the last 21 bytes have the trailer's shape, the
 * CRC32C of the bytes before them must match its digits. CRC32C detects every error confined to
 * 32 consecutive bits, so any single damaged byte (of the body or of the digits) is caught; damage
 * to the trailer's fixed text leaves no trailer at all, which each reader rejects for objects of a
 * layout that must carry one.
 */
import { crc32c } from "@node-rs/crc32";

/** Name of the JSON field the trailer adds. */
export const CHECKSUM_FIELD = "crc32c";

const TRAILER_HEAD = `,"${CHECKSUM_FIELD}":"`;
const HEX_DIGITS = 8;
/** Length in bytes of `,"crc32c":"hhhhhhhh"}`. */
export const CHECKSUM_TRAILER_BYTES = TRAILER_HEAD.length + HEX_DIGITS + 2;

const utf8Encoder = new TextEncoder();
// The trailer's text has no character that is special in a regular expression.
const TRAILER_SHAPE = new RegExp(`^${TRAILER_HEAD}([0-9a-f]{${HEX_DIGITS}})"\\}$`);

/** Appends the checksum trailer to `json`, the text of a JSON object; returns its UTF-8 bytes. */
export function sealJson(json: string): Uint8Array {
  if (!json.startsWith("{") || !json.endsWith("}") || json === "{}") {
    throw new RangeError("only a non-empty JSON object can carry a checksum trailer");
  }
  const body = utf8Encoder.encode(json.slice(0, -1));
  const out = new Uint8Array(body.length + CHECKSUM_TRAILER_BYTES);
  out.set(body, 0);
  out.set(utf8Encoder.encode(`${TRAILER_HEAD}${hex(crc32c(body))}"}`), body.length);
  return out;
}

/**
 * What the trailer of `bytes` says: `absent` if the last bytes do not have the trailer's shape,
 * `verified` if its digits match the CRC32C of the bytes before it, else a reason naming the
 * checksum mismatch.
 */
export function checkJsonTrailer(
  bytes: Uint8Array,
): { readonly status: "absent" | "verified" } | { readonly status: "mismatch"; readonly reason: string } {
  if (bytes.length <= CHECKSUM_TRAILER_BYTES) return { status: "absent" };
  const split = bytes.length - CHECKSUM_TRAILER_BYTES;
  const match = TRAILER_SHAPE.exec(Buffer.from(bytes.subarray(split)).toString("latin1"));
  if (match === null) return { status: "absent" };
  const stored = match[1] as string;
  const actual = hex(crc32c(bytes.subarray(0, split)));
  if (stored === actual) return { status: "verified" };
  return {
    status: "mismatch",
    reason: `checksum mismatch: stored crc32c ${stored}, computed ${actual} over ${split} bytes`,
  };
}

function hex(crc: number): string {
  return (crc >>> 0).toString(16).padStart(HEX_DIGITS, "0");
}
