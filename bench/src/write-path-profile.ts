/**
 * Times each stage of a write per 5,000-row TSBS cpu-only batch, in CPU ns per row (this process's
 * user + system time, which other work on the machine disturbs less than wall time), best of
 * `--rounds`:
 *
 * - `write_path.decode_series`, `write_path.decode_arrow`, `write_path.decode_arrow_dict`: a
 *   `WriteRequest` in the series form, in the Arrow form with Utf8 tags, and with Dictionary<Utf8>
 *   tags, decoded into columns by the StorageService Write handler (its engine stubbed out, so the
 *   figure is the request's decoding and conversion alone);
 * - `write_path.prepare`: validation against the schema, tsid;
 * - `write_path.wal_encode`: the WAL payload;
 * - `write_path.memtable_append`.
 *
 * Prints one JSON object per figure: {"name","value","unit"}. Flags: --batches N (default 20),
 * --rounds N (default 5).
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { storageServiceDefinition, type storage } from "@horaedb/proto";
import {
  Dictionary,
  Int32,
  makeVector,
  Table,
  tableToIPC,
  TimestampMillisecond,
  Utf8,
  vectorFromArray,
  type Vector,
} from "apache-arrow";
import { storageServiceHandlers } from "@horaedb/horaedb";
import { prepareWrite, type StorageEngine, type WriteRows } from "@horaedb/horaedb/engine";
import { encodeBatch } from "@horaedb/horaedb/batch";
import { MemtableSet } from "@horaedb/horaedb/memtable";
import {
  DEFAULT_SCALE,
  TSBS_FIELDS,
  TSBS_TAGS,
  tsbsBatches,
  tsbsWriteRows,
  type TsbsBatch,
} from "@horaedb/horaedb/testing";
import { emit, positiveInteger } from "./report.js";

const { values: flags } = parseArgs({
  options: { batches: { type: "string", default: "20" }, rounds: { type: "string", default: "5" } },
});
const BATCHES = positiveInteger("batches", flags.batches);
const ROUNDS = positiveInteger("rounds", flags.rounds);
const BATCH_ROWS = 5_000;

const tsbs = [...tsbsBatches({ ...DEFAULT_SCALE, durationMs: 8 * 3_600_000 }, BATCH_ROWS)].slice(0, BATCHES);
const rows = tsbs.reduce((sum, b) => sum + b.numRows, 0);

/** The series form: one entry per host, its rows as field groups. */
function seriesRequest(batch: TsbsBatch): Uint8Array {
  const entries = new Map<string, storage.WriteSeriesEntry>();
  for (let r = 0; r < batch.numRows; r++) {
    const host = batch.tags.hostname[r] as string;
    let entry = entries.get(host);
    if (entry === undefined) {
      const tags = TSBS_TAGS.map((tag, t) => ({ nameIndex: t, value: { stringValue: batch.tags[tag][r] } }));
      entries.set(host, (entry = { tags, fieldGroups: [] }));
    }
    entry.fieldGroups?.push({
      timestamp: batch.timestamps[r],
      fields: TSBS_FIELDS.map((field, f) => ({
        nameIndex: f,
        value: { float64Value: batch.fields[field][r] },
      })),
    });
  }
  const series = { tagNames: [...TSBS_TAGS], fieldNames: [...TSBS_FIELDS], entries: [...entries.values()] };
  return storageServiceDefinition().Write.requestSerialize({ tableRequests: [{ table: "cpu", series }] });
}

/** The Arrow form, tags Utf8 or Dictionary<Utf8>. */
function arrowRequest(batch: TsbsBatch, dictionaryTags: boolean): Uint8Array {
  const columns: Record<string, Vector> = {};
  for (const tag of TSBS_TAGS) {
    columns[tag] = vectorFromArray(
      batch.tags[tag],
      dictionaryTags ? new Dictionary(new Utf8(), new Int32()) : new Utf8(),
    );
  }
  columns.timestamp = makeVector({
    type: new TimestampMillisecond(),
    data: BigInt64Array.from(batch.timestamps, (ts) => BigInt(ts)),
  } as never);
  for (const field of TSBS_FIELDS) columns[field] = makeVector(batch.fields[field]);
  const arrow = { ipcStream: tableToIPC(new Table(columns), "stream"), tagColumns: [...TSBS_TAGS] };
  return storageServiceDefinition().Write.requestSerialize({ tableRequests: [{ table: "cpu", arrow }] });
}

/** The Write handler over an engine that takes the decoded rows and does nothing with them. */
const stubEngine = {
  write: (_schema: string, _table: string, writeRows: WriteRows) =>
    Promise.resolve({ rows: writeRows.batch.numRows, sequence: 0 }),
} as unknown as StorageEngine;
const handlers = storageServiceHandlers({
  engine: () => stubEngine,
  endpoint: () => ({ host: "127.0.0.1", port: 0 }),
  logger: pino({ level: "silent" }),
});

function decodeRequest(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    handlers.Write({ request: bytes } as never, (error, response) => {
      if (error !== null) reject(new Error(String(error.details)));
      else if (response?.header?.code !== "STATUS_CODE_OK") reject(new Error(response?.header?.message));
      else resolve();
    });
  });
}

/** Best of ROUNDS of running `stage` over every batch, in CPU ns per row. */
async function best(stage: (index: number) => unknown): Promise<number> {
  let fastest = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.cpuUsage();
    for (let i = 0; i < tsbs.length; i++) await stage(i);
    const used = process.cpuUsage(started);
    fastest = Math.min(fastest, used.user + used.system);
  }
  return (fastest * 1e3) / rows;
}

const series = tsbs.map(seriesRequest);
const arrow = tsbs.map((b) => arrowRequest(b, false));
const arrowDict = tsbs.map((b) => arrowRequest(b, true));
emit("write_path.decode_series", await best((i) => decodeRequest(series[i] as Uint8Array)), "ns/row");
emit("write_path.decode_arrow", await best((i) => decodeRequest(arrow[i] as Uint8Array)), "ns/row");
emit("write_path.decode_arrow_dict", await best((i) => decodeRequest(arrowDict[i] as Uint8Array)), "ns/row");

const writeRows = tsbs.map(tsbsWriteRows);
const policy = { autoCreateTable: true, autoAddColumns: true };
const schema = prepareWrite("cpu", undefined, writeRows[0] as WriteRows, policy).schema;
const prepared = writeRows.map((w) => prepareWrite("cpu", schema, w, policy).batch);
emit(
  "write_path.prepare",
  await best((i) => prepareWrite("cpu", schema, writeRows[i] as WriteRows, policy)),
  "ns/row",
);
emit("write_path.wal_encode", await best((i) => encodeBatch(prepared[i] as WriteRows["batch"], 1)), "ns/row");
let sequence = 0;
let current = new MemtableSet({ schema });
emit(
  "write_path.memtable_append",
  await best((i) => {
    // A fresh memtable per round, so every round appends to the same amount of data.
    const memtables = i === 0 ? (current = new MemtableSet({ schema })) : current;
    memtables.append(prepared[i] as WriteRows["batch"], sequence++);
  }),
  "ns/row",
);
