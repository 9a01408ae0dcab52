import { ProtobufWriter, WireType, lenFieldSize } from "./protobuf-writer.js";
import type { TableWrite } from "./table-write.js";

// Field numbers of storage.proto `WriteRequest` and `RequestContext`.
const WRITE_REQUEST = { context: 1, tableRequests: 2 } as const;
const REQUEST_CONTEXT = { database: 1 } as const;

/** A `WriteRequest` message: the context, then the table requests' bytes as they are. */
export function encodeWriteRequest(database: string, writes: readonly TableWrite[]): Buffer {
  const databaseBytes = Buffer.byteLength(database);
  const contextSize = lenFieldSize(databaseBytes);
  let size = lenFieldSize(contextSize);
  for (const write of writes) size += lenFieldSize(write.encoded.byteLength);
  const w = new ProtobufWriter(size);
  w.tag(WRITE_REQUEST.context, WireType.LEN);
  w.varint(contextSize);
  w.tag(REQUEST_CONTEXT.database, WireType.LEN);
  w.string(database, databaseBytes);
  for (const write of writes) {
    w.tag(WRITE_REQUEST.tableRequests, WireType.LEN);
    w.bytes(write.encoded);
  }
  return w.finish();
}
