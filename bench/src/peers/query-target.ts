/** What the TSBS bench needs of every database it compares. */
import type { TsbsQuery } from "@horaedb/horaedb/testing";

export type SystemName = "horaedb" | "influxdb" | "victoria-metrics";

export interface QueryTarget {
  readonly name: SystemName;
  /**
   * Runs the query and reads the whole answer; resolves to its rows, counted as our SQL counts them
   * (e.g. one row per bucket and host), so that the systems' answers can be compared.
   */
  query(query: TsbsQuery): Promise<number>;
  /** Rows of the cpu data visible to queries. */
  countRows(): Promise<number>;
  /** Waits for the server's background work to end; false if it is still busy after `timeoutMs`. */
  waitUntilIdle(timeoutMs: number): Promise<boolean>;
  /** Stops the server's process where it is while another system is measured (see ChildService). */
  pause(): void;
  /** Lets a paused server run again. */
  resume(): void;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** A database that ingests the InfluxDB line protocol over HTTP. */
export interface LineProtocolTarget extends QueryTarget {
  /** Sends each body (line-protocol text, ms timestamps) in one request, `concurrency` at a time. */
  ingestLines(bodies: readonly Buffer[], concurrency: number, onBody: (body: Buffer) => void): Promise<void>;
  /** Makes every ingested row visible to queries. */
  settle(): Promise<void>;
}
