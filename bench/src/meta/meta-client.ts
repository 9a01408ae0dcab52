/** A MetaService client for the bench: CreateTable as a promise of the decoded response. */
import * as grpc from "@grpc/grpc-js";
import { loadMetaProto, StatusCode, type meta } from "@horaedb/proto";

/** Deadline of each call: a create waits for shard locks and instance events, well within it. */
const CALL_DEADLINE_MS = 30_000;

/** A table with a timestamp key, one tag and one field, as the instances would get from SQL. */
export const BENCH_TABLE_SCHEMA: meta.CreateTableRequest["tableSchema"] = {
  columns: [
    { name: "ts", dataType: "DATA_TYPE_TIMESTAMP" },
    { name: "host", dataType: "DATA_TYPE_STRING", isTag: true },
    { name: "value", dataType: "DATA_TYPE_DOUBLE", isNullable: true },
  ],
  timestampColumn: "ts",
};

/** A CreateTable answered with a status other than OK. */
export class CreateTableRefusedError extends Error {
  override readonly name = "CreateTableRefusedError";
  readonly table: string;
  readonly code: string;

  constructor(table: string, code: string, message: string) {
    super(`CreateTable ${table} answered ${code}: ${message}`);
    this.table = table;
    this.code = code;
  }
}

/** A table horaemeta created: its id and the shard it was placed on. */
export interface CreatedTable {
  readonly name: string;
  readonly tableId: string;
  readonly shardId: number;
}

export class MetaServiceClient {
  readonly #client: InstanceType<ReturnType<typeof loadMetaProto>["horaedb"]["meta"]["v1"]["MetaService"]>;
  readonly #clusterName: string;

  constructor(address: string, clusterName: string) {
    const { MetaService } = loadMetaProto().horaedb.meta.v1;
    this.#client = new MetaService(address, grpc.credentials.createInsecure());
    this.#clusterName = clusterName;
  }

  /** Creates `public.<name>`; rejects unless horaemeta answers OK with the table and its shard. */
  createTable(name: string): Promise<CreatedTable> {
    const request: meta.CreateTableRequest = {
      header: { clusterName: this.#clusterName },
      schemaName: "public",
      name,
      tableSchema: BENCH_TABLE_SCHEMA,
    };
    return new Promise((resolve, reject) => {
      this.#client.CreateTable(request, { deadline: Date.now() + CALL_DEADLINE_MS }, (error, response) => {
        if (error !== null || response === undefined) return reject(error ?? new Error("no response"));
        const header = response.header;
        if (header?.code !== StatusCode.STATUS_CODE_OK) {
          return reject(new CreateTableRefusedError(name, String(header?.code), header?.message ?? ""));
        }
        const table = response.createdTable;
        const shard = response.shardInfo;
        if (table === null || shard === null) {
          return reject(new CreateTableRefusedError(name, "OK", "the answer names no table or shard"));
        }
        resolve({ name, tableId: table.id, shardId: shard.id });
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}
