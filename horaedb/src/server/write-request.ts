/**
 * Decodes a `WriteRequest` (storage.proto) from its bytes: the database, and per table request its
 * name and rows. Series rows are left as the bytes of their `SeriesRows` message, decoded into
 * columns by `seriesToWriteRows`; Arrow rows are decoded here (a handful of fields) with the IPC
 * stream kept as a view of the request.
 */
import type { storage } from "@horaedb/proto";
import { ProtobufReader, WireType } from "./protobuf-reader.js";

/** `ArrowRows`: an Arrow IPC stream and the roles of its columns. */
export interface ArrowRowsMessage {
  readonly ipcStream: Uint8Array;
  /** The enum's name, or its number when this build does not know it. */
  readonly compression: storage.Compression__Output | number;
  readonly tagColumns: readonly string[];
  /** Empty means the default, `timestamp`. */
  readonly timestampColumn: string;
}

/** The rows of one table request, in the form it carries them. */
export type TableRequestRows =
  | { readonly form: "series"; readonly seriesRows: Uint8Array }
  | { readonly form: "arrow"; readonly arrow: ArrowRowsMessage };

export interface DecodedTableRequest {
  readonly table: string;
  /** Absent when the request carries no rows. */
  readonly rows: TableRequestRows | undefined;
}

export interface DecodedWriteRequest {
  /** `RequestContext.database`; empty when not given. */
  readonly database: string;
  readonly tableRequests: readonly DecodedTableRequest[];
}

// Field numbers of storage.proto.
const WRITE_REQUEST = { context: 1, tableRequests: 2 } as const;
const REQUEST_CONTEXT = { database: 1 } as const;
const TABLE_REQUEST = { table: 1, series: 2, arrow: 3 } as const;
const ARROW_ROWS = { ipcStream: 1, compression: 2, tagColumns: 3, timestampColumn: 4 } as const;

const COMPRESSION_NAMES: readonly storage.Compression__Output[] = [
  "COMPRESSION_NONE",
  "COMPRESSION_ZSTD",
  "COMPRESSION_GZIP",
];

/** Decodes the request; throws ProtobufDecodeError if the bytes are not a valid `WriteRequest`. */
export function decodeWriteRequest(bytes: Uint8Array): DecodedWriteRequest {
  const r = new ProtobufReader(bytes);
  let database = "";
  const tableRequests: DecodedTableRequest[] = [];
  while (!r.done) {
    const key = r.uint32();
    const field = key >>> 3;
    const wire = key & 7;
    if (field === WRITE_REQUEST.context) {
      r.expect(field, wire, WireType.LEN);
      database = decodeContext(r);
    } else if (field === WRITE_REQUEST.tableRequests) {
      r.expect(field, wire, WireType.LEN);
      tableRequests.push(decodeTableRequest(r));
    } else {
      r.skip(wire);
    }
  }
  return { database, tableRequests };
}

function decodeContext(r: ProtobufReader): string {
  const outer = r.enter();
  let database = "";
  while (!r.done) {
    const key = r.uint32();
    const field = key >>> 3;
    const wire = key & 7;
    if (field === REQUEST_CONTEXT.database) {
      r.expect(field, wire, WireType.LEN);
      database = r.string();
    } else {
      r.skip(wire);
    }
  }
  r.leave(outer);
  return database;
}

function decodeTableRequest(r: ProtobufReader): DecodedTableRequest {
  const outer = r.enter();
  let table = "";
  let rows: TableRequestRows | undefined;
  while (!r.done) {
    const key = r.uint32();
    const field = key >>> 3;
    const wire = key & 7;
    if (field === TABLE_REQUEST.table) {
      r.expect(field, wire, WireType.LEN);
      table = r.string();
    } else if (field === TABLE_REQUEST.series) {
      // A oneof: the member that comes last wins.
      r.expect(field, wire, WireType.LEN);
      rows = { form: "series", seriesRows: r.bytesView() };
    } else if (field === TABLE_REQUEST.arrow) {
      r.expect(field, wire, WireType.LEN);
      rows = { form: "arrow", arrow: decodeArrowRows(r) };
    } else {
      r.skip(wire);
    }
  }
  r.leave(outer);
  return { table, rows };
}

function decodeArrowRows(r: ProtobufReader): ArrowRowsMessage {
  const outer = r.enter();
  let ipcStream: Uint8Array = new Uint8Array(0);
  let compression = 0;
  const tagColumns: string[] = [];
  let timestampColumn = "";
  while (!r.done) {
    const key = r.uint32();
    const field = key >>> 3;
    const wire = key & 7;
    switch (field) {
      case ARROW_ROWS.ipcStream:
        r.expect(field, wire, WireType.LEN);
        ipcStream = r.bytesView();
        break;
      case ARROW_ROWS.compression:
        r.expect(field, wire, WireType.VARINT);
        compression = r.uint32() | 0;
        break;
      case ARROW_ROWS.tagColumns:
        r.expect(field, wire, WireType.LEN);
        tagColumns.push(r.string());
        break;
      case ARROW_ROWS.timestampColumn:
        r.expect(field, wire, WireType.LEN);
        timestampColumn = r.string();
        break;
      default:
        r.skip(wire);
    }
  }
  r.leave(outer);
  return {
    ipcStream,
    compression: COMPRESSION_NAMES[compression] ?? compression,
    tagColumns,
    timestampColumn,
  };
}
