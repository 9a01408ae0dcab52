/**
 * Just enough of the protobuf wire format to encode write requests directly from points, without
 * building a message object per value first (the generic encoder's cost dominated the client's CPU
 * time on large batches). Sizes are computed first, so every buffer is allocated once, exactly.
 * Field numbers here are all below 16, so every tag is one byte.
 */

/** Wire types. */
export const WireType = { VARINT: 0, FIXED64: 1, LEN: 2, FIXED32: 5 } as const;
type WireType = (typeof WireType)[keyof typeof WireType];

const TWO_POW_32 = 2 ** 32;

/** Encoded size of a varint holding a non-negative safe integer. */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 5;
  for (let v = Math.floor(value / 0x800000000); v > 0; v = Math.floor(v / 0x80)) size++;
  return size;
}

/** Encoded size of an int64 varint: negative values take ten bytes (two's complement). */
export function int64Size(value: number): number {
  return value < 0 ? 10 : varintSize(value);
}

/** Encoded size of a varint holding a 64-bit two's complement value given as a bigint. */
export function bigVarintSize(value: bigint): number {
  let v = BigInt.asUintN(64, value);
  let size = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

/** Size of a length-delimited field (tag, length, content) whose content is `length` bytes. */
export function lenFieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

/** Writes fields into a buffer of a size computed beforehand. */
export class ProtobufWriter {
  readonly #buffer: Buffer;
  #pos = 0;

  constructor(size: number) {
    this.#buffer = Buffer.allocUnsafe(size);
  }

  tag(field: number, wire: WireType): void {
    this.#buffer[this.#pos++] = (field << 3) | wire;
  }

  /** A varint holding a non-negative safe integer. */
  varint(value: number): void {
    const buffer = this.#buffer;
    let v = value;
    while (v >= TWO_POW_32) {
      buffer[this.#pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    while (v >= 0x80) {
      buffer[this.#pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buffer[this.#pos++] = v;
  }

  /** An int64 varint from a safe integer, negative values in two's complement. */
  int64(value: number): void {
    if (value >= 0) this.varint(value);
    else this.bigVarint(BigInt(value));
  }

  /** A varint holding a 64-bit value (two's complement for negative values). */
  bigVarint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.#buffer[this.#pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buffer[this.#pos++] = Number(v);
  }

  double(value: number): void {
    this.#buffer.writeDoubleLE(value, this.#pos);
    this.#pos += 8;
  }

  float(value: number): void {
    this.#buffer.writeFloatLE(value, this.#pos);
    this.#pos += 4;
  }

  /** Length prefix and bytes. */
  bytes(value: Uint8Array): void {
    this.varint(value.byteLength);
    this.raw(value);
  }

  /** Length prefix and UTF-8 bytes; `byteLength` is `Buffer.byteLength(value)`. */
  string(value: string, byteLength: number): void {
    this.varint(byteLength);
    this.#pos += this.#buffer.write(value, this.#pos, "utf8");
  }

  /** Bytes already encoded, copied as they are. */
  raw(value: Uint8Array): void {
    this.#buffer.set(value, this.#pos);
    this.#pos += value.byteLength;
  }

  /** The encoded message; throws if fewer or more bytes were written than the size computed. */
  finish(): Buffer {
    if (this.#pos !== this.#buffer.length) {
      throw new Error(`protobuf size mismatch: wrote ${this.#pos} bytes of ${this.#buffer.length}`);
    }
    return this.#buffer;
  }
}
