import { gunzipSync } from "node:zlib";
import { Table, tableFromIPC } from "apache-arrow";
import { loadZstd, StatusCode, type storage, zstdDecompress } from "@horaedb/proto";
import { HoraeDBError } from "./errors.js";

/**
 * The Arrow tables of a query result payload: one per `record_batches` entry, each a complete Arrow
 * IPC stream, decompressed first when the payload says COMPRESSION_ZSTD or COMPRESSION_GZIP (for
 * ZSTD, `loadPayloadCodec` must have resolved).
 */
export function decodeArrowPayload(payload: storage.ArrowPayload__Output): Table[] {
  return payload.recordBatches.map((bytes, i) => {
    const ipc = decompress(bytes, payload.compression, i);
    try {
      return tableFromIPC(ipc);
    } catch (error) {
      throw malformed(`record batch stream ${i} is not a valid Arrow IPC stream`, error);
    }
  });
}

/** Loads what decoding `payload` needs (the zstd codec is WebAssembly, loaded once). */
export async function loadPayloadCodec(payload: storage.ArrowPayload__Output): Promise<void> {
  if (payload.compression === "COMPRESSION_ZSTD") await loadZstd();
}

/** Joins result tables into one; the first table's schema is the result's (it may have no rows). */
export function concatTables(tables: readonly Table[]): Table {
  const [first, ...rest] = tables;
  if (first === undefined) return new Table();
  return rest.length === 0 ? first : first.concat(...rest);
}

/** Largest decompressed result stream: a stream this large could not be one gRPC message anyway. */
const MAX_RESULT_STREAM_BYTES = 2 ** 31 - 1;

function decompress(bytes: Buffer, compression: storage.Compression__Output, index: number): Uint8Array {
  switch (compression) {
    case "COMPRESSION_NONE":
      return bytes;
    case "COMPRESSION_GZIP":
      try {
        return gunzipSync(bytes);
      } catch (error) {
        throw malformed(`record batch stream ${index} is not valid gzip data`, error);
      }
    case "COMPRESSION_ZSTD":
      try {
        return zstdDecompress(bytes, MAX_RESULT_STREAM_BYTES);
      } catch (error) {
        throw malformed(`record batch stream ${index} is not valid zstd data`, error);
      }
    default:
      throw malformed(`the server answered with an unknown compression ${String(compression)}`);
  }
}

function malformed(message: string, cause?: unknown): HoraeDBError {
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new HoraeDBError(StatusCode.STATUS_CODE_INTERNAL, `malformed query result: ${message}${detail}`, {
    retryable: false,
    cause,
  });
}
