/**
 * Where a query result's Arrow bytes start in a SqlQuery response. A typed array can view its
 * bytes only at a multiple of its element size, so the reader copies every 8-byte column of a
 * stream that does not start at a multiple of 8 (the IPC format aligns buffers to 8 bytes from the
 * stream's start). Knowing where the first stream starts, the transport places the response so
 * that the stream is aligned, and the columns are read where they arrived.
 */

/** How many bytes of a response `sqlResultOffset` needs at most: the header and a few lengths. */
export const SQL_RESULT_PREFIX_BYTES = 64;

/** Protobuf wire types. */
const VARINT = 0;
const LENGTH_DELIMITED = 2;
/** SqlQueryResponse.arrow and ArrowPayload.record_batches (storage.proto). */
const ARROW_FIELD = 3;
const RECORD_BATCHES_FIELD = 1;

/**
 * The offset, in an encoded SqlQueryResponse of which `prefix` is the start, of the bytes of its
 * first `arrow.record_batches` entry; undefined when the response has none, or they start beyond
 * the prefix, or it is not laid out as encoders write it (the payload's fields in number order).
 */
export function sqlResultOffset(prefix: Uint8Array): number | undefined {
  let at = 0;
  while (at < prefix.length) {
    const tag = readVarint(prefix, at);
    if (tag === undefined) return undefined;
    at = tag.end;
    const wireType = tag.value & 7;
    if (wireType === VARINT) {
      const skipped = readVarint(prefix, at);
      if (skipped === undefined) return undefined;
      at = skipped.end;
      continue;
    }
    if (wireType !== LENGTH_DELIMITED) return undefined;
    const length = readVarint(prefix, at);
    if (length === undefined) return undefined;
    at = length.end;
    if (tag.value >>> 3 !== ARROW_FIELD) {
      at += length.value;
      continue;
    }
    // Inside ArrowPayload (which may be empty): the first entry's tag and length, then its bytes.
    const payloadEnd = at + length.value;
    const entry = readVarint(prefix, at);
    if (entry === undefined || entry.end > payloadEnd) return undefined;
    if (entry.value !== ((RECORD_BATCHES_FIELD << 3) | LENGTH_DELIMITED)) return undefined;
    const entryLength = readVarint(prefix, entry.end);
    return entryLength === undefined || entryLength.end > payloadEnd ? undefined : entryLength.end;
  }
  return undefined;
}

/** A varint of at most 32 bits at `at`, and where it ends; undefined when it runs past the bytes. */
function readVarint(bytes: Uint8Array, at: number): { value: number; end: number } | undefined {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    const byte = bytes[at + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return { value, end: at + i + 1 };
  }
  return undefined;
}
