import { tableFromIPC } from "apache-arrow";
import { StatusCode, type storage } from "@horaedb/proto";
import type { Column } from "../batch/column.js";
import type { ColumnBatch } from "../batch/column-batch.js";
import type { WriteRows } from "../engine/index.js";
import { arrowToColumnBatch } from "../sst/index.js";
import { DataType } from "../table/data-type.js";
import { decompressPayload } from "./payload-compression.js";
import { RequestError } from "./request-error.js";

const DEFAULT_TIMESTAMP_COLUMN = "timestamp";

/**
 * Turns the columnar form of a write (an Arrow IPC stream) into rows. Tag columns must be strings;
 * the timestamp column may be an Arrow timestamp of any unit or Int64 milliseconds.
 */
export function arrowToWriteRows(table: string, arrow: storage.ArrowRows__Output): WriteRows {
  const invalid = (message: string) =>
    new RequestError(StatusCode.STATUS_CODE_INVALID_ARGUMENT, `table ${table}: ${message}`);
  const ipc = decompressPayload(arrow.ipcStream, arrow.compression, `table ${table}`);
  let batch: ColumnBatch;
  try {
    batch = arrowToColumnBatch(tableFromIPC(ipc));
  } catch (error) {
    throw invalid(
      `the Arrow IPC stream cannot be read: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const timestampColumn = arrow.timestampColumn.length > 0 ? arrow.timestampColumn : DEFAULT_TIMESTAMP_COLUMN;
  const tsIndex = batch.names.indexOf(timestampColumn);
  if (tsIndex < 0) throw invalid(`timestamp column "${timestampColumn}" is not in the Arrow stream`);
  const columns = [...batch.columns];
  const ts = columns[tsIndex] as Column;
  if (ts.type === DataType.Int64) {
    // Int64 milliseconds are accepted as the timestamp; the engine holds them as exact doubles.
    const values = ts.values as BigInt64Array;
    const converted = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) converted[i] = Number(values[i]);
    columns[tsIndex] = { type: DataType.Timestamp, values: converted, validity: ts.validity };
  } else if (ts.type !== DataType.Timestamp) {
    throw invalid(
      `timestamp column "${timestampColumn}" is ${ts.type}; it must be an Arrow timestamp or int64 milliseconds`,
    );
  }
  for (const tag of arrow.tagColumns) {
    const i = batch.names.indexOf(tag);
    if (i < 0) throw invalid(`tag column "${tag}" is not in the Arrow stream`);
    if (batch.columns[i]?.type !== DataType.String)
      throw invalid(`tag column "${tag}" must be a string column`);
  }
  return {
    batch: { names: batch.names, columns, numRows: batch.numRows },
    tagNames: new Set(arrow.tagColumns),
    timestampColumn,
  };
}
