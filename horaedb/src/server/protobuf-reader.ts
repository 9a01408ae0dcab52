/**
 * Just enough of the protobuf wire format to decode write requests straight from their bytes into
 * columns. The generic decoder builds an object per field value (a `Field`, a `Value`, a string per
 * 64-bit integer), which cost more than everything else a write does; this reader walks the bytes
 * in place and nested messages are entered and left rather than copied.
 */

/** Wire types (protobuf encoding spec). */
export const WireType = { VARINT: 0, FIXED64: 1, LEN: 2, START_GROUP: 3, END_GROUP: 4, FIXED32: 5 } as const;

const TWO_POW_32 = 4294967296;

/** The bytes are not a valid encoding of the message; `offset` is where decoding failed. */
export class ProtobufDecodeError extends Error {
  override readonly name = "ProtobufDecodeError";
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.offset = offset;
  }
}

/**
 * Reads fields from `bytes[pos, end)`. `enter()` narrows `end` to a length-delimited field (a nested
 * message) and `leave()` restores it, checking the message was read exactly to its end.
 */
export class ProtobufReader {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  readonly #text: Buffer;
  pos: number;
  end: number;
  /** Low and high 32 bits (unsigned) of the last `varint64()`. */
  lo = 0;
  hi = 0;

  constructor(bytes: Uint8Array, start = 0, end = bytes.byteLength) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint of at most 32 significant bits, as an unsigned number (the high bits are dropped). */
  uint32(): number {
    const bytes = this.bytes;
    let pos = this.pos;
    let byte = bytes[pos++] as number;
    let value = byte & 0x7f;
    if (byte >= 0x80) {
      byte = bytes[pos++] as number;
      value |= (byte & 0x7f) << 7;
      if (byte >= 0x80) {
        byte = bytes[pos++] as number;
        value |= (byte & 0x7f) << 14;
        if (byte >= 0x80) {
          byte = bytes[pos++] as number;
          value |= (byte & 0x7f) << 21;
          if (byte >= 0x80) {
            byte = bytes[pos++] as number;
            value |= byte << 28;
            // A negative int32 is sign-extended to ten bytes; the bits past 32 are dropped.
            for (let i = 0; byte >= 0x80; i++) {
              if (i === 5) throw new ProtobufDecodeError("varint longer than 10 bytes", this.pos);
              byte = bytes[pos++] as number;
            }
          }
        }
      }
    }
    // Reading past the array yields `undefined`, which ends the varint; the bound is checked here.
    if (pos > this.end) throw new ProtobufDecodeError("truncated varint", this.pos);
    this.pos = pos;
    return value >>> 0;
  }

  /** A varint of up to 64 bits, left in `lo` and `hi` (unsigned 32-bit halves). */
  varint64(): void {
    const bytes = this.bytes;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let byte = 0;
    let shift = 0;
    for (; shift < 28; shift += 7) {
      byte = bytes[pos++] as number;
      lo |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    if (byte >= 0x80) {
      // Byte 5 holds bits 28..34: four for `lo`, three for `hi`.
      byte = bytes[pos++] as number;
      lo |= (byte & 0x0f) << 28;
      hi = (byte & 0x7f) >> 4;
      for (shift = 3; byte >= 0x80 && shift < 32; shift += 7) {
        byte = bytes[pos++] as number;
        hi |= (byte & 0x7f) << shift;
      }
      if (byte >= 0x80) throw new ProtobufDecodeError("varint longer than 10 bytes", this.pos);
    }
    if (pos > this.end) throw new ProtobufDecodeError("truncated varint", this.pos);
    this.pos = pos;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** A fixed 64-bit double. */
  double(): number {
    const pos = this.pos;
    if (pos + 8 > this.end) throw new ProtobufDecodeError("truncated fixed64", pos);
    this.pos = pos + 8;
    return this.#view.getFloat64(pos, true);
  }

  /** The double at `pos` (bounds checked by the caller). */
  doubleAt(pos: number): number {
    return this.#view.getFloat64(pos, true);
  }

  /** A fixed 32-bit float. */
  float(): number {
    const pos = this.pos;
    if (pos + 4 > this.end) throw new ProtobufDecodeError("truncated fixed32", pos);
    this.pos = pos + 4;
    return this.#view.getFloat32(pos, true);
  }

  /** The length of a length-delimited field; leaves `pos` at its first byte. */
  length(): number {
    const length = this.uint32();
    if (this.pos + length > this.end) {
      throw new ProtobufDecodeError(`length ${length} runs past the end of the message`, this.pos);
    }
    return length;
  }

  /** Enters a nested message: reads its length and returns the outer end, for `leave()`. */
  enter(): number {
    const length = this.length();
    const outer = this.end;
    this.end = this.pos + length;
    return outer;
  }

  /** Leaves a nested message entered with `enter()`, which must have been read to its end. */
  leave(outerEnd: number): void {
    if (this.pos !== this.end) throw new ProtobufDecodeError("message read past its end", this.pos);
    this.end = outerEnd;
  }

  /** A length-delimited string (UTF-8). */
  string(): string {
    const length = this.length();
    const start = this.pos;
    this.pos = start + length;
    return this.#text.toString("utf8", start, start + length);
  }

  /** The UTF-8 text of bytes [start, end) of the underlying buffer. */
  text(start: number, end: number): string {
    return this.#text.toString("utf8", start, end);
  }

  /** A length-delimited field's bytes, as a view (not a copy). */
  bytesView(): Uint8Array {
    const length = this.length();
    const start = this.pos;
    this.pos = start + length;
    return this.bytes.subarray(start, start + length);
  }

  /** Skips a field of wire type `wire` whose key was just read. */
  skip(wire: number): void {
    switch (wire) {
      case WireType.VARINT:
        this.varint64();
        return;
      case WireType.FIXED64:
        this.#advance(8);
        return;
      case WireType.LEN:
        this.#advance(this.length());
        return;
      case WireType.FIXED32:
        this.#advance(4);
        return;
      default:
        throw new ProtobufDecodeError(`unsupported wire type ${wire}`, this.pos);
    }
  }

  /** Throws unless `wire` is the wire type `expected` of field `field`. */
  expect(field: number, wire: number, expected: number): void {
    if (wire !== expected) {
      throw new ProtobufDecodeError(`field ${field} has wire type ${wire}, expected ${expected}`, this.pos);
    }
  }

  #advance(n: number): void {
    if (this.pos + n > this.end) throw new ProtobufDecodeError("truncated field", this.pos);
    this.pos += n;
  }
}

/** `lo`/`hi` as a signed 64-bit value in a number; exact when |value| <= 2^53. */
export function int64Number(lo: number, hi: number): number {
  return (hi | 0) * TWO_POW_32 + lo;
}

/** Whether the signed 64-bit value `lo`/`hi` lies within ±(2^53 - 1), i.e. is exact as a number. */
export function int64IsSafe(lo: number, hi: number): boolean {
  const high = hi | 0;
  // 2^53 - 1 has the high word 0x1fffff (any low word fits); -(2^53 - 1) is high -0x200000, low 1.
  return (high > -0x200000 && high <= 0x1fffff) || (high === -0x200000 && lo >= 1);
}

/** `lo`/`hi` as a decimal signed 64-bit integer (for messages). */
export function int64String(lo: number, hi: number): string {
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString();
}
