/**
 * Zstandard for `COMPRESSION_ZSTD` payloads, shared by the server and the SDK. The codec is
 * WebAssembly (Node 20's zlib has no zstd): `loadZstd()` must have resolved before
 * `zstdCompress` / `zstdDecompress` are called.
 *
 * Decompression reads the frame header first and refuses, before allocating anything, a payload
 * that is not exactly one zstd frame declaring its content size, or that declares more than the
 * caller's limit: a few compressed bytes must not make the receiver allocate gigabytes.
 */
import { compress, decompress, init } from "@bokuweb/zstd-wasm";

/** A payload that is not acceptable zstd data; the message says why. */
export class ZstdPayloadError extends Error {
  override readonly name = "ZstdPayloadError";
}

/** Level 1: payloads are compressed on the request path, where speed matters more than ratio. */
export const DEFAULT_ZSTD_LEVEL = 1;

const FRAME_MAGIC = 0xfd2fb528;
let loading: Promise<void> | undefined;
let loaded = false;

/** Loads the codec (once per process; later calls return the same promise). */
export function loadZstd(): Promise<void> {
  loading ??= init().then(() => {
    loaded = true;
  });
  return loading;
}

/** Whether `loadZstd()` has resolved. */
export function zstdLoaded(): boolean {
  return loaded;
}

export function zstdCompress(bytes: Uint8Array, level = DEFAULT_ZSTD_LEVEL): Uint8Array {
  requireLoaded();
  return compress(bytes, level);
}

/**
 * Decompresses one zstd frame whose header declares its content size, of at most `maxBytes`.
 * Throws ZstdPayloadError otherwise.
 */
export function zstdDecompress(bytes: Uint8Array, maxBytes: number): Uint8Array {
  requireLoaded();
  const size = zstdFrameContentSize(bytes);
  if (size === undefined) {
    throw new ZstdPayloadError("the zstd frame does not declare its content size");
  }
  if (size > maxBytes) {
    throw new ZstdPayloadError(`the zstd frame declares ${size} bytes, over the limit of ${maxBytes}`);
  }
  let output: Uint8Array;
  try {
    output = decompress(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ZstdPayloadError(`not valid zstd data (${reason})`, { cause: error });
  }
  if (output.byteLength !== size) {
    throw new ZstdPayloadError(`the zstd frame declares ${size} bytes but holds ${output.byteLength}`);
  }
  return output;
}

/**
 * The content size a zstd frame header declares (RFC 8878, section 3.1.1), or undefined when the
 * frame leaves it out. Throws ZstdPayloadError when `bytes` does not start with a zstd frame header.
 */
export function zstdFrameContentSize(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 5 || view.getUint32(0, true) !== FRAME_MAGIC) {
    throw new ZstdPayloadError("not a zstd frame (bad magic number)");
  }
  const descriptor = bytes[4] as number;
  if ((descriptor & 0x08) !== 0) throw new ZstdPayloadError("zstd frame header has its reserved bit set");
  const sizeFlag = descriptor >> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 0x03] as number;
  const sizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][sizeFlag] as number;
  const at = 5 + (singleSegment ? 0 : 1) + dictionaryIdBytes;
  if (bytes.byteLength < at + sizeBytes) throw new ZstdPayloadError("zstd frame header is truncated");
  switch (sizeBytes) {
    case 0:
      return undefined;
    case 1:
      return view.getUint8(at);
    case 2:
      return view.getUint16(at, true) + 256;
    case 4:
      return view.getUint32(at, true);
    default: {
      const size = view.getBigUint64(at, true);
      return size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(size);
    }
  }
}

function requireLoaded(): void {
  if (!loaded) throw new Error("the zstd codec is not loaded: await loadZstd() first");
}
