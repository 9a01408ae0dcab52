import { StatusCode } from "@horaedb/proto";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { StorageEngine } from "../engine/index.js";
import { executeSql } from "../interpreters/index.js";
import { resultRowObjects } from "../query/index.js";
import type { CellValue, DataType } from "../table/data-type.js";
import type { ServerMetrics } from "./metrics.js";
import { DEFAULT_SQL_TIMEOUT_MS } from "./sql-query.js";
import { statusOf } from "./status-mapping.js";

export interface HttpSqlContext {
  readonly engine: () => StorageEngine;
  readonly database: string;
  readonly logger: Logger;
  /** Where query metrics are recorded, if anywhere. */
  readonly metrics?: ServerMetrics | undefined;
  /** Timeout of each statement (default DEFAULT_SQL_TIMEOUT_MS). */
  readonly timeoutMs?: number | undefined;
}

/** A JSON cell: numbers stay numbers, int64/uint64 beyond ±2^53 become decimal strings, bytes base64. */
export type JsonCell = number | string | boolean | null;

const BODY_SCHEMA = {
  type: "object",
  required: ["query"],
  additionalProperties: false,
  properties: { query: { type: "string", minLength: 1 } },
} as const;

/** HTTP status of a response status code. */
function httpStatusOf(code: StatusCode): number {
  switch (code) {
    case StatusCode.STATUS_CODE_INVALID_ARGUMENT:
      return 400;
    case StatusCode.STATUS_CODE_NOT_FOUND:
      return 404;
    case StatusCode.STATUS_CODE_ALREADY_EXISTS:
      return 409;
    case StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED:
      return 429;
    case StatusCode.STATUS_CODE_DEADLINE_EXCEEDED:
      return 504;
    case StatusCode.STATUS_CODE_CANCELLED:
      return 499;
    default:
      return 500;
  }
}

/** A cell as JSON; see JsonCell. Timestamps are milliseconds since the epoch. */
export function jsonCell(value: CellValue): JsonCell {
  if (typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return value;
}

/** A result column as `POST /sql` describes it: its name and its type (a DataType name). */
export interface JsonColumn {
  readonly name: string;
  readonly type: DataType;
}

/**
 * `POST /sql` with `{ "query": "..." }` (HoraeDB's field name) runs one statement. Answers
 * `{ "columns": [{ "name", "type" }], "rows": [{ column: value }] }` for queries (types are
 * HoraeDB's names, such as `timestamp`, `double`, `string`, `uint64`; cells as JsonCell says, so
 * the type tells a decimal string of a uint64 from a string) or `{ "affected_rows": n }`;
 * failures answer `{ "code", "message" }` with 400 (bad SQL), 404 (unknown table), 409, 429, 504,
 * or 500 (internal).
 */
export function registerSqlRoute(app: FastifyInstance, context: HttpSqlContext): void {
  app.post<{ Body: { query: string } }>(
    "/sql",
    {
      schema: { body: BODY_SCHEMA },
      errorHandler: (error, _request, reply) => {
        const status = error.validation === undefined ? (error.statusCode ?? 500) : 400;
        void reply.status(status).send({ code: "INVALID_ARGUMENT", message: error.message });
      },
    },
    async (request, reply) => {
      const abort = new AbortController();
      reply.raw.on("close", () => {
        if (!reply.raw.writableFinished) abort.abort(new Error("the client closed the connection"));
      });
      try {
        const sql = request.body.query;
        const run = () =>
          executeSql(context.engine(), context.database, sql, {
            timeoutMs: context.timeoutMs ?? DEFAULT_SQL_TIMEOUT_MS,
            signal: abort.signal,
          });
        const outcome = await (context.metrics?.timeQuery(sql, run) ?? run());
        if (outcome.kind === "affected") return await reply.send({ affected_rows: outcome.rows });
        const rows = resultRowObjects(outcome.result).map((row) => {
          const out: Record<string, JsonCell> = {};
          for (const [name, value] of Object.entries(row)) out[name] = jsonCell(value);
          return out;
        });
        const columns: JsonColumn[] = outcome.result.columns.map(({ name, type }) => ({ name, type }));
        return await reply.send({ columns, rows });
      } catch (error) {
        const status = statusOf(error);
        if (status.internal) context.logger.error({ err: error }, "SQL statement failed");
        return await reply
          .status(httpStatusOf(status.code))
          .send({ code: status.code.replace(/^STATUS_CODE_/, ""), message: status.message });
      }
    },
  );
}
