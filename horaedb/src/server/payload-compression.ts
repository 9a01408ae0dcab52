import { gunzipSync, gzipSync } from "node:zlib";
import { StatusCode, ZstdPayloadError, type storage, zstdCompress, zstdDecompress } from "@horaedb/proto";
import { RequestError } from "./request-error.js";

type Compression = storage.Compression__Output;

/** Largest decompressed payload when the caller sets no limit: the default request size limit. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/**
 * Undoes the compression of a payload (NONE, ZSTD or GZIP). A payload that would decompress to
 * more than `maxBytes` is refused rather than inflated: a request's size limit holds for what it
 * decompresses to as well. ZSTD needs the codec loaded (`loadZstd()`, done when the server starts).
 */
export function decompressPayload(
  bytes: Uint8Array,
  compression: Compression | number,
  what: string,
  maxBytes = DEFAULT_MAX_PAYLOAD_BYTES,
): Uint8Array {
  const invalid = (message: string) =>
    new RequestError(StatusCode.STATUS_CODE_INVALID_ARGUMENT, `${what}: ${message}`);
  switch (compression) {
    case "COMPRESSION_NONE":
      return bytes;
    case "COMPRESSION_ZSTD":
      try {
        return zstdDecompress(bytes, maxBytes);
      } catch (error) {
        if (error instanceof ZstdPayloadError) throw invalid(error.message);
        throw error;
      }
    case "COMPRESSION_GZIP":
      try {
        return gunzipSync(bytes, { maxOutputLength: maxBytes });
      } catch (error) {
        if (error instanceof RangeError) {
          throw invalid(`the gzip data decompresses to more than the limit of ${maxBytes} bytes`);
        }
        throw invalid(`not valid gzip data (${error instanceof Error ? error.message : String(error)})`);
      }
    default:
      throw invalid(
        `compression ${compression} is not supported by this server; use COMPRESSION_NONE, COMPRESSION_ZSTD or COMPRESSION_GZIP`,
      );
  }
}

/**
 * Compresses a payload with the codec the client accepts (ZSTD at level 1, or GZIP at level 1);
 * returns the codec used, NONE when the client accepts neither.
 */
export function compressPayload(
  bytes: Uint8Array,
  accepted: Compression,
): { bytes: Uint8Array; compression: Compression } {
  switch (accepted) {
    case "COMPRESSION_ZSTD":
      return { bytes: zstdCompress(bytes), compression: accepted };
    case "COMPRESSION_GZIP":
      return { bytes: gzipSync(bytes, { level: 1 }), compression: accepted };
    default:
      return { bytes, compression: "COMPRESSION_NONE" };
  }
}
