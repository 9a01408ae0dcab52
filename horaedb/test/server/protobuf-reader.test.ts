import { describe, expect, it } from "vitest";
import {
  int64IsSafe,
  int64Number,
  int64String,
  ProtobufDecodeError,
  ProtobufReader,
  WireType,
} from "../../src/server/protobuf-reader.js";

/** The varint encoding of a 64-bit two's complement value. */
function varint(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function read64(bytes: number[]): bigint {
  const r = new ProtobufReader(Uint8Array.from(bytes));
  r.varint64();
  expect(r.done).toBe(true);
  return BigInt.asIntN(64, (BigInt(r.hi) << 32n) | BigInt(r.lo));
}

describe("ProtobufReader", () => {
  it("reads 64-bit varints of every length exactly, negative values as two's complement", () => {
    const values = [0n, 1n, 127n, 128n, 300n, 2n ** 28n - 1n, 2n ** 28n, 2n ** 32n, 2n ** 35n + 5n];
    values.push(2n ** 53n - 1n, 2n ** 56n, 2n ** 63n - 1n, -1n, -2n, -(2n ** 53n) + 1n, -(2n ** 63n));
    for (const value of values) expect(read64(varint(value))).toBe(value);
  });

  it("reads uint32 varints, keeping the low 32 bits of a sign-extended negative int32", () => {
    for (const value of [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 - 1]) {
      const r = new ProtobufReader(Uint8Array.from(varint(BigInt(value))));
      expect(r.uint32()).toBe(value);
    }
    const negative = new ProtobufReader(Uint8Array.from(varint(-5n)));
    expect(negative.uint32() | 0).toBe(-5);
    expect(negative.done).toBe(true);
  });

  it("refuses truncated and over-long varints and fields running past their message", () => {
    expect(() => new ProtobufReader(Uint8Array.from([0x80, 0x80])).uint32()).toThrow(ProtobufDecodeError);
    expect(() => new ProtobufReader(Uint8Array.from([0xff])).varint64()).toThrow(/truncated varint/);
    const eleven = new Array<number>(10).fill(0xff).concat([0x01]);
    expect(() => new ProtobufReader(Uint8Array.from(eleven)).varint64()).toThrow(/longer than 10 bytes/);
    expect(() => new ProtobufReader(Uint8Array.from(eleven)).uint32()).toThrow(/longer than 10 bytes/);
    // A length of 5 with 2 bytes left.
    expect(() => new ProtobufReader(Uint8Array.from([5, 1, 2])).length()).toThrow(/runs past the end/);
    // A nested message whose last varint spills over its end.
    const r = new ProtobufReader(Uint8Array.from([1, 0x80, 0x01]));
    expect(() => r.enter() + r.uint32()).toThrow(/truncated varint/);
  });

  it("enters and leaves nested messages, checking each is read exactly to its end", () => {
    // field 1 (LEN) = [field 2 (VARINT) = 150], then field 3 (VARINT) = 1
    const r = new ProtobufReader(Uint8Array.from([0x0a, 3, 0x10, 0x96, 0x01, 0x18, 1]));
    expect(r.uint32()).toBe((1 << 3) | WireType.LEN);
    const outer = r.enter();
    expect(r.uint32()).toBe((2 << 3) | WireType.VARINT);
    expect(r.uint32()).toBe(150);
    expect(r.done).toBe(true);
    r.leave(outer);
    expect(r.uint32()).toBe((3 << 3) | WireType.VARINT);
    expect(r.uint32()).toBe(1);
    expect(r.done).toBe(true);

    const early = new ProtobufReader(Uint8Array.from([2, 0x08, 1]));
    const end = early.enter();
    expect(() => early.leave(end)).toThrow(/read past its end/);
  });

  it("skips fields of every wire type and refuses groups", () => {
    const bytes = Uint8Array.from([
      ...[0x08, ...varint(-1n)], // 1: varint
      ...[0x11, 1, 2, 3, 4, 5, 6, 7, 8], // 2: fixed64
      ...[0x1a, 2, 9, 9], // 3: len
      ...[0x25, 1, 2, 3, 4], // 4: fixed32
      ...[0x28, 42], // 5: varint
    ]);
    const r = new ProtobufReader(bytes);
    for (let i = 0; i < 4; i++) r.skip(r.uint32() & 7);
    expect(r.uint32()).toBe(0x28);
    expect(r.uint32()).toBe(42);
    expect(() => new ProtobufReader(Uint8Array.from([0x0b])).skip(WireType.START_GROUP)).toThrow(
      /unsupported wire type 3/,
    );
    expect(() => new ProtobufReader(Uint8Array.from([1, 2])).skip(WireType.FIXED32)).toThrow(/truncated/);
  });

  it("reads doubles, floats and strings where they lie, also in a view at an odd offset", () => {
    const backing = new Uint8Array(64);
    const payload = Uint8Array.from([
      ...Array.from(new Uint8Array(Float64Array.of(-0.1).buffer)),
      ...Array.from(new Uint8Array(Float32Array.of(1.5).buffer)),
      ...[5, ...Buffer.from("héllo".slice(0, 4), "utf8")],
    ]);
    backing.set(payload, 3);
    const r = new ProtobufReader(backing.subarray(3, 3 + payload.length));
    expect(r.double()).toBe(-0.1);
    expect(r.float()).toBe(1.5);
    expect(r.string()).toBe("héll");
    expect(r.done).toBe(true);
  });
});

describe("int64 words", () => {
  const words = (value: bigint) => {
    const u = BigInt.asUintN(64, value);
    return [Number(u & 0xffffffffn), Number(u >> 32n)] as const;
  };

  it("tells which values are exact as numbers, at both ends of ±(2^53 - 1)", () => {
    const safe = [0n, 1n, -1n, 2n ** 53n - 1n, -(2n ** 53n) + 1n, 2n ** 32n, -(2n ** 32n)];
    const unsafe = [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), 2n ** 60n];
    for (const value of safe) {
      const [lo, hi] = words(value);
      expect(int64IsSafe(lo, hi), String(value)).toBe(true);
      expect(int64Number(lo, hi)).toBe(Number(value));
    }
    for (const value of unsafe) expect(int64IsSafe(...words(value)), String(value)).toBe(false);
    expect(int64String(...words(-(2n ** 63n)))).toBe("-9223372036854775808");
  });
});
