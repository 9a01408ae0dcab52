import { gunzipSync } from "node:zlib";
import { Table, tableFromIPC } from "apache-arrow";
import { StatusCode, type storage } from "@horaedb/proto";
import { HoraeDBError } from "./errors.js";

/**
 * The Arrow tables of a query result payload: one per `record_batches` entry, each a complete Arrow
 * IPC stream, gunzipped first when the payload says COMPRESSION_GZIP.
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

/** Joins result tables into one; the first table's schema is the result's (it may have no rows). */
export function concatTables(tables: readonly Table[]): Table {
  const [first, ...rest] = tables;
  if (first === undefined) return new Table();
  return rest.length === 0 ? first : first.concat(...rest);
}

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
    default:
      // The client only ever accepts NONE or GZIP, so another codec is a server fault.
      throw malformed(`the server answered with ${compression}, which this client did not accept`);
  }
}

function malformed(message: string, cause?: unknown): HoraeDBError {
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new HoraeDBError(StatusCode.STATUS_CODE_INTERNAL, `malformed query result: ${message}${detail}`, {
    retryable: false,
    cause,
  });
}
