/** TSBS rows in the InfluxDB line protocol, which InfluxDB and VictoriaMetrics both ingest. */
import { TSBS_FIELDS, TSBS_TAGS, type TsbsBatch } from "@horaedb/horaedb/testing";

/** Commas, equals signs and spaces end a tag key or value unless escaped. */
function escapeTag(text: string): string {
  return /[,= ]/.test(text) ? text.replace(/[,= ]/g, (c) => `\\${c}`) : text;
}

/**
 * The batch as line-protocol text, one line per row in TSBS's form, timestamps in milliseconds
 * (to be sent with `precision=ms`):
 * `cpu,hostname=host_0,region=...,service_environment=test usage_user=58.1,...,usage_guest_nice=3.2 1704067200000`
 */
export function tsbsLineProtocol(batch: TsbsBatch, measurement = "cpu"): Buffer {
  const lines = new Array<string>(batch.numRows);
  for (let r = 0; r < batch.numRows; r++) {
    let line = measurement;
    for (const tag of TSBS_TAGS) line += `,${tag}=${escapeTag(batch.tags[tag][r] as string)}`;
    let separator = " ";
    for (const field of TSBS_FIELDS) {
      line += `${separator}${field}=${batch.fields[field][r] as number}`;
      separator = ",";
    }
    lines[r] = `${line} ${batch.timestamps[r] as number}`;
  }
  return Buffer.from(`${lines.join("\n")}\n`);
}
