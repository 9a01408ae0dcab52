import {
  Metadata,
  status as GrpcStatus,
  type handleClientStreamingCall,
  type handleUnaryCall,
  type ServiceDefinition,
  type ServiceError,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { unimplementedHandlers } from "@horaedb/common";
import { StatusCode, storageServiceDefinition, type common, type storage } from "@horaedb/proto";
import type { Logger } from "pino";
import type { StorageEngine, WriteRows } from "./engine/index.js";
import { arrowToWriteRows } from "./server/arrow-rows.js";
import { CallCancellation } from "./server/call-cancellation.js";
import { passingEncoded, type EncodedMessage } from "./server/encoded-response.js";
import type { ServerMetrics } from "./server/metrics.js";
import { ProtobufDecodeError } from "./server/protobuf-reader.js";
import { RequestError } from "./server/request-error.js";
import { seriesToWriteRows } from "./server/series-rows.js";
import { outcomeResponse, requestLimits, streamSql, unaryOutcomeResponse } from "./server/sql-query.js";
import { executeSql } from "./interpreters/index.js";
import { statusOf } from "./server/status-mapping.js";
import { decodeWriteRequest, type DecodedTableRequest } from "./server/write-request.js";

export const STORAGE_SERVICE_NAME = "horaedb.storage.v1.StorageService";
export const DEFAULT_DATABASE = "public";

export interface StorageServiceContext {
  /** The engine; only called once the server is listening, which is after the engine is open. */
  readonly engine: () => StorageEngine;
  /** The address clients reach this instance at (returned by Route). */
  readonly endpoint: () => { host: string; port: number };
  readonly logger: Logger;
  /** Where write and query metrics are recorded, if anywhere. */
  readonly metrics?: ServerMetrics | undefined;
  /** Timeout of a statement whose request leaves `timeout_ms` at 0 (default DEFAULT_SQL_TIMEOUT_MS). */
  readonly defaultQueryTimeoutMs?: number | undefined;
  /** Largest size a compressed Arrow payload may decompress to (default DEFAULT_MAX_PAYLOAD_BYTES). */
  readonly maxPayloadBytes?: number | undefined;
  /**
   * SqlQuery answers rows with responses encoded beforehand (server/encoded-response.ts), which
   * only `storageServiceServerDefinition()`'s serializer sends; leave it unset when registering the
   * handlers with the generated definition.
   */
  readonly encodedSqlResponses?: boolean | undefined;
}

const OK: common.ResponseHeader = { code: StatusCode.STATUS_CODE_OK, message: "" };

/**
 * A write request as the Write and StreamWrite handlers receive it: its bytes when registered with
 * `storageServiceServerDefinition()`, or the message the generated definition decodes.
 */
export type WriteRequestInput = Uint8Array | storage.WriteRequest__Output;

/** The StorageService handlers; the writes take `WriteRequestInput`. */
export interface StorageServiceImplementation extends UntypedServiceImplementation {
  Route: storage.StorageServiceHandlers["Route"];
  Write: handleUnaryCall<WriteRequestInput, storage.WriteResponse>;
  StreamWrite: handleClientStreamingCall<WriteRequestInput, storage.WriteResponse>;
  SqlQuery: storage.StorageServiceHandlers["SqlQuery"];
  StreamSqlQuery: storage.StorageServiceHandlers["StreamSqlQuery"];
}

let serverDefinition: ServiceDefinition | undefined;

/**
 * The StorageService definition to register `storageServiceHandlers` with: the generated one, except
 * that Write and StreamWrite hand the request bytes over undecoded, and SqlQuery sends responses
 * encoded beforehand as they are. The generic decoder makes an object per field value of a write,
 * which costs more than the rest of the write; the handlers decode the bytes straight into columns
 * instead. A query's rows are written straight into its response (server/encoded-response.ts).
 */
export function storageServiceServerDefinition(): ServiceDefinition {
  if (serverDefinition !== undefined) return serverDefinition;
  const generated = storageServiceDefinition();
  const asBytes = (bytes: Buffer): Buffer => bytes;
  serverDefinition = {
    ...generated,
    Write: { ...generated.Write, requestDeserialize: asBytes },
    StreamWrite: { ...generated.StreamWrite, requestDeserialize: asBytes },
    SqlQuery: {
      ...generated.SqlQuery,
      responseSerialize: passingEncoded(generated.SqlQuery.responseSerialize),
    },
  };
  return serverDefinition;
}

/**
 * StorageService on the storage engine: Route, the writes, and SQL (unary SqlQuery and the
 * batch-per-response StreamSqlQuery). Request failures are answered in the response header.
 * Registered with `storageServiceServerDefinition()`, set `encodedSqlResponses` so that SqlQuery
 * writes its rows straight into its responses.
 */
export function storageServiceHandlers(context: StorageServiceContext): StorageServiceImplementation {
  const unimplemented = unimplementedHandlers(
    storageServiceDefinition(),
    STORAGE_SERVICE_NAME,
  ) as unknown as StorageServiceImplementation;
  const writer = new TableRequestWriter(context);
  return {
    ...unimplemented,
    Route(call, callback) {
      const endpoint = context.endpoint();
      // Standalone: this instance leads every table, those that do not exist yet too (a write for
      // one comes here and creates it; a query for one is answered NOT_FOUND here).
      const routes = call.request.tables.map((table) => ({
        table,
        shardId: 0,
        leader: endpoint,
        followers: [],
      }));
      callback(null, { header: OK, clusterVersion: "0", routes });
    },
    Write(call, callback) {
      const results = new WriteResults();
      writer
        .apply(call.request, results)
        .then(() => callback(null, results.response()))
        .catch((error: unknown) => callback(grpcError(error), null));
    },
    StreamWrite(call, callback) {
      // Each message is applied as it arrives; one response sums up the whole stream.
      const results = new WriteResults();
      let chain: Promise<void> = Promise.resolve();
      call.on("data", (request: WriteRequestInput) => {
        chain = chain.then(() => writer.apply(request, results));
      });
      call.on("end", () => {
        chain
          .then(() => callback(null, results.response()))
          .catch((error: unknown) => callback(grpcError(error), null));
      });
      call.on("error", (error) => context.logger.debug({ err: error }, "StreamWrite stream failed"));
    },
    SqlQuery(call, callback) {
      const cancellation = new CallCancellation(call);
      const request = call.request;
      const answer = (response: storage.SqlQueryResponse | EncodedMessage): void => {
        cancellation.settle();
        // The definition's SqlQuery serializer passes an EncodedMessage through (passingEncoded).
        callback(null, response as storage.SqlQueryResponse);
      };
      timeQuery(context, request.sql, () =>
        executeSql(
          context.engine(),
          databaseOf(request.context),
          request.sql,
          requestLimits(request, cancellation, context.defaultQueryTimeoutMs),
        ),
      )
        .then((outcome) =>
          answer(
            context.encodedSqlResponses === true
              ? unaryOutcomeResponse(outcome, request.acceptCompression)
              : outcomeResponse(outcome, request.acceptCompression),
          ),
        )
        .catch((error: unknown) => answer({ header: failureHeader(context, error, request.sql) }));
    },
    StreamSqlQuery(call) {
      const cancellation = new CallCancellation(call);
      const request = call.request;
      timeQuery(context, request.sql, () =>
        streamSql(
          context.engine(),
          databaseOf(request.context),
          request,
          requestLimits(request, cancellation, context.defaultQueryTimeoutMs),
          (response) => call.write(response),
        ),
      )
        .catch((error: unknown) => {
          if (!cancellation.aborted) call.write({ header: failureHeader(context, error, request.sql) });
        })
        .finally(() => {
          if (cancellation.aborted) return;
          cancellation.settle();
          call.end();
        });
    },
  };
}

function timeQuery<T>(context: StorageServiceContext, sql: string, run: () => Promise<T>): Promise<T> {
  return context.metrics === undefined ? run() : context.metrics.timeQuery(sql, run);
}

/** The header answering a failed statement; failures that are the server's fault are logged. */
function failureHeader(context: StorageServiceContext, error: unknown, sql: string): common.ResponseHeader {
  const status = statusOf(error);
  if (status.internal) context.logger.error({ err: error, sql }, "SQL statement failed");
  return { code: status.code, message: status.message, retryAfterMs: status.retryAfterMs };
}

/** Applies the table requests of a write, each whole or not at all, independently of the others. */
class TableRequestWriter {
  readonly #context: StorageServiceContext;

  constructor(context: StorageServiceContext) {
    this.#context = context;
  }

  async apply(request: WriteRequestInput, results: WriteResults): Promise<void> {
    const metrics = this.#context.metrics;
    if (metrics === undefined) return this.#apply(request, results);
    return metrics.timeWrite(() => this.#apply(request, results));
  }

  async #apply(input: WriteRequestInput, results: WriteResults): Promise<void> {
    const metrics = this.#context.metrics;
    const request = decodeWriteRequest(input instanceof Uint8Array ? input : encodeWriteRequest(input));
    const database = request.database.length > 0 ? request.database : DEFAULT_DATABASE;
    await Promise.all(
      request.tableRequests.map(async (tableRequest, index) => {
        const slot = results.reserve(tableRequest.table);
        let rows = 0;
        try {
          const writeRows = toWriteRows(tableRequest, this.#context.maxPayloadBytes);
          rows = writeRows.batch.numRows;
          const written = await this.#context.engine().write(database, tableRequest.table, writeRows);
          results.succeeded(slot, written.rows);
          metrics?.writeRows.inc({ status: "ok" }, written.rows);
        } catch (error) {
          const status = statusOf(error);
          if (status.internal) {
            this.#context.logger.error({ err: error, table: tableRequest.table, index }, "write failed");
          }
          results.failed(slot, rows, status);
          metrics?.writeRows.inc({ status: "failed" }, rows);
        }
      }),
    );
  }
}

function toWriteRows(request: DecodedTableRequest, maxPayloadBytes: number | undefined): WriteRows {
  if (request.table.length === 0) {
    throw new RequestError(
      StatusCode.STATUS_CODE_INVALID_ARGUMENT,
      "a table request has an empty table name",
    );
  }
  switch (request.rows?.form) {
    case "series":
      return seriesToWriteRows(request.table, request.rows.seriesRows);
    case "arrow":
      return arrowToWriteRows(request.table, request.rows.arrow, maxPayloadBytes);
    case undefined:
      throw new RequestError(
        StatusCode.STATUS_CODE_INVALID_ARGUMENT,
        `table ${request.table}: the request carries no rows`,
      );
  }
}

/** The bytes of a request the generated definition decoded (handlers registered with it). */
function encodeWriteRequest(request: storage.WriteRequest__Output): Uint8Array {
  return storageServiceDefinition().Write.requestSerialize(request);
}

/** Per-table outcomes of a write (or a whole write stream), in the order the requests arrived. */
class WriteResults {
  readonly #results: storage.TableWriteResult[] = [];
  #successRows = 0;
  #failedRows = 0;
  #firstFailure: common.ResponseHeader | undefined;

  reserve(table: string): number {
    this.#results.push({ table, header: OK, rows: "0" });
    return this.#results.length - 1;
  }

  succeeded(slot: number, rows: number): void {
    this.#successRows += rows;
    (this.#results[slot] as storage.TableWriteResult).rows = String(rows);
  }

  failed(
    slot: number,
    rows: number,
    status: { code: StatusCode; message: string; retryAfterMs: number },
  ): void {
    this.#failedRows += rows;
    const header = { code: status.code, message: status.message, retryAfterMs: status.retryAfterMs };
    const result = this.#results[slot] as storage.TableWriteResult;
    result.header = header;
    result.rows = String(rows);
    this.#firstFailure ??= header;
  }

  response(): storage.WriteResponse {
    return {
      header: this.#firstFailure ?? OK,
      successRows: String(this.#successRows),
      failedRows: String(this.#failedRows),
      tableResults: this.#results,
    };
  }
}

function databaseOf(context: storage.RequestContext__Output | null): string {
  const database = context?.database ?? "";
  return database.length > 0 ? database : DEFAULT_DATABASE;
}

/**
 * For failures outside any table request: INVALID_ARGUMENT for a request that is not a valid
 * WriteRequest, INTERNAL (a handler bug) otherwise.
 */
function grpcError(error: unknown): ServiceError {
  const malformed = error instanceof ProtobufDecodeError;
  const message = malformed
    ? `the WriteRequest cannot be decoded: ${error.message}`
    : error instanceof Error
      ? error.message
      : String(error);
  return Object.assign(new Error(message), {
    code: malformed ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.INTERNAL,
    details: message,
    metadata: new Metadata(),
  });
}
