import { gunzipSync, gzipSync } from "node:zlib";
import { StatusCode, type storage } from "@horaedb/proto";
import { RequestError } from "./request-error.js";

type Compression = storage.Compression__Output;

/**
 * Undoes the compression of a payload. NONE and GZIP are supported; ZSTD is in the contract but this
 * build has no zstd codec (Node 20's zlib lacks it), so it is refused with a message saying so, as
 * is a codec number this build does not know.
 */
export function decompressPayload(
  bytes: Uint8Array,
  compression: Compression | number,
  what: string,
): Uint8Array {
  switch (compression) {
    case "COMPRESSION_NONE":
      return bytes;
    case "COMPRESSION_GZIP":
      try {
        return gunzipSync(bytes);
      } catch (error) {
        throw new RequestError(
          StatusCode.STATUS_CODE_INVALID_ARGUMENT,
          `${what}: not valid gzip data (${error instanceof Error ? error.message : String(error)})`,
        );
      }
    default:
      throw new RequestError(
        StatusCode.STATUS_CODE_INVALID_ARGUMENT,
        `${what}: compression ${compression} is not supported by this server; use COMPRESSION_NONE or COMPRESSION_GZIP`,
      );
  }
}

/** Compresses a payload if the client accepts a codec this server has; returns the codec used. */
export function compressPayload(
  bytes: Uint8Array,
  accepted: Compression,
): { bytes: Uint8Array; compression: Compression } {
  if (accepted === "COMPRESSION_GZIP") return { bytes: gzipSync(bytes, { level: 1 }), compression: accepted };
  return { bytes, compression: "COMPRESSION_NONE" };
}
