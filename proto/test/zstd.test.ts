import { beforeAll, describe, expect, it } from "vitest";
import {
  ZstdPayloadError,
  loadZstd,
  zstdCompress,
  zstdDecompress,
  zstdFrameContentSize,
} from "../src/index.js";

function sample(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31) % 7 === 0 ? i % 256 : 65;
  return bytes;
}

describe("zstd payload codec", () => {
  beforeAll(async () => {
    await loadZstd();
  });

  it("round-trips payloads of several sizes, and compresses repetitive data", () => {
    for (const length of [0, 1, 255, 256, 65_791, 1_000_000]) {
      const input = sample(length);
      const compressed = zstdCompress(input);
      expect(zstdFrameContentSize(compressed)).toBe(length);
      // Buffer.equals: a deep equality over a million elements would dominate the test's time.
      expect(Buffer.from(zstdDecompress(compressed, length)).equals(input)).toBe(true);
      if (length >= 65_791) expect(compressed.byteLength).toBeLessThan(length / 4);
    }
  });

  it("refuses a frame declaring more than the limit, before decompressing it", () => {
    const compressed = zstdCompress(sample(10_000));
    expect(() => zstdDecompress(compressed, 9_999)).toThrow(
      new ZstdPayloadError("the zstd frame declares 10000 bytes, over the limit of 9999"),
    );
  });

  it("refuses data that is not a zstd frame, a truncated frame and a corrupt one", () => {
    expect(() => zstdDecompress(new Uint8Array([1, 2, 3, 4, 5, 6]), 100)).toThrow(/bad magic number/);
    expect(() => zstdDecompress(new Uint8Array([0x28, 0xb5]), 100)).toThrow(/bad magic number/);
    const compressed = zstdCompress(sample(50_000));
    expect(() => zstdDecompress(compressed.subarray(0, compressed.byteLength - 10), 50_000)).toThrow(
      ZstdPayloadError,
    );
    const corrupt = compressed.slice();
    for (let i = 20; i < corrupt.byteLength; i += 7) corrupt[i] = (corrupt[i] as number) ^ 0x5a;
    expect(() => zstdDecompress(corrupt, 50_000)).toThrow(ZstdPayloadError);
  });

  it("reads the content size field of every width, and reports a frame without one", () => {
    // magic, descriptor, [window descriptor], [content size]
    const frame = (descriptor: number, ...rest: number[]) =>
      new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, descriptor, ...rest]);
    expect(zstdFrameContentSize(frame(0x20, 200))).toBe(200); // single segment, 1 byte
    expect(zstdFrameContentSize(frame(0x40, 0x50, 0x01, 0x00))).toBe(257); // 2 bytes + 256
    expect(zstdFrameContentSize(frame(0x80, 0x50, 0x00, 0x00, 0x01, 0x00))).toBe(65_536);
    expect(zstdFrameContentSize(frame(0x00, 0x50))).toBeUndefined(); // no size field
    expect(() => zstdFrameContentSize(frame(0x08, 0x50))).toThrow(/reserved bit/);
    expect(() => zstdFrameContentSize(frame(0x80, 0x50, 0x00))).toThrow(/truncated/);
  });
});
