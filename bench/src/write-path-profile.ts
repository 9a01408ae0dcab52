/** Times each stage of the write path per 5,000-row TSBS batch (validation, encoding, memtable). */
import { pino } from "pino";
import { prepareWrite, type WriteRows } from "@horaedb/horaedb/engine";
import { encodeBatch } from "@horaedb/horaedb/batch";
import { MemtableSet } from "@horaedb/horaedb/memtable";
import { DEFAULT_SCALE, tsbsBatches, tsbsWriteRows } from "@horaedb/horaedb/testing";

void pino;
const batches = [...tsbsBatches({ ...DEFAULT_SCALE, durationMs: 8 * 3_600_000 }, 5000)].map(tsbsWriteRows);
const policy = { autoCreateTable: true, autoAddColumns: true };
const schema = prepareWrite("cpu", undefined, batches[0] as WriteRows, policy).schema;
const memtables = new MemtableSet({ schema });
const t = { prepare: 0, encode: 0, append: 0 };
let rows = 0;
for (let round = 0; round < 3; round++) {
  for (const [i, b] of batches.entries()) {
    let s = performance.now();
    const prepared = prepareWrite("cpu", schema, b, policy);
    t.prepare += performance.now() - s;
    s = performance.now();
    encodeBatch(prepared.batch, schema.version);
    t.encode += performance.now() - s;
    s = performance.now();
    memtables.append(prepared.batch, round * batches.length + i);
    t.append += performance.now() - s;
    rows += b.batch.numRows;
  }
}
for (const [k, ms] of Object.entries(t)) console.log(`${k}: ${((ms * 1e6) / rows).toFixed(0)} ns/row`);
