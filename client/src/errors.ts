import { status as GrpcStatus } from "@grpc/grpc-js";
import { StatusCode, isRetryableStatus } from "@horaedb/proto";

/** Options shared by the constructors of the error classes. */
export interface HoraeDBErrorOptions {
  /** Overrides whether retrying may succeed; by default `isRetryableStatus(code)`. */
  readonly retryable?: boolean;
  /** The error this one was raised for. */
  readonly cause?: unknown;
}

/**
 * Base class of every error the SDK throws. `code` is the horaedb status (proto
 * `horaedb.common.v1.StatusCode`); `retryable` says whether the same call may succeed later. The SDK
 * has already retried what it retries by the time an application sees an error.
 */
export class HoraeDBError extends Error {
  override readonly name: string = "HoraeDBError";
  /** The horaedb status of the failure. */
  readonly code: StatusCode;
  /** Whether repeating the same call later may succeed. */
  readonly retryable: boolean;

  constructor(code: StatusCode, message: string, options: HoraeDBErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? isRetryableStatus(code);
  }
}

/** A call was refused before it left the client: a bad point, option or Arrow table. */
export class HoraeDBArgumentError extends HoraeDBError {
  override readonly name = "HoraeDBArgumentError";

  constructor(message: string) {
    super(StatusCode.STATUS_CODE_INVALID_ARGUMENT, message, { retryable: false });
  }
}

/** The client (or a writer) was closed before or while the call ran. */
export class HoraeDBClosedError extends HoraeDBError {
  override readonly name = "HoraeDBClosedError";

  constructor(what: "client" | "writer") {
    super(StatusCode.STATUS_CODE_CANCELLED, `the ${what} is closed`, { retryable: false });
  }
}

/**
 * A gRPC call failed outside the server's handler: the connection, a gRPC deadline, a cancellation,
 * a message over the size limit, a handler crash. `grpcCode` is the gRPC status.
 */
export class HoraeDBTransportError extends HoraeDBError {
  override readonly name = "HoraeDBTransportError";
  /** The gRPC status code (`@grpc/grpc-js` `status`). */
  readonly grpcCode: GrpcStatus;
  /** The gRPC status name, e.g. `UNAVAILABLE`. */
  readonly grpcStatus: string;
  /** `host:port` the call went to. */
  readonly endpoint: string;
  /** The StorageService method, e.g. `Write`. */
  readonly method: string;

  constructor(grpcCode: GrpcStatus, details: string, endpoint: string, method: string) {
    const grpcStatus = GrpcStatus[grpcCode] ?? `gRPC status ${grpcCode}`;
    super(statusOfGrpc(grpcCode), `${method} to ${endpoint} failed: ${grpcStatus}: ${details}`, {
      retryable: TRANSIENT_GRPC_CODES.has(grpcCode),
    });
    this.grpcCode = grpcCode;
    this.grpcStatus = grpcStatus;
    this.endpoint = endpoint;
    this.method = method;
  }
}

/**
 * The server does not implement the call (gRPC UNIMPLEMENTED or `STATUS_CODE_UNIMPLEMENTED`), e.g. SQL
 * on a server without the SQL engine. `message` is the server's own message.
 */
export class HoraeDBUnsupportedError extends HoraeDBError {
  override readonly name = "HoraeDBUnsupportedError";
  /** The StorageService method, e.g. `SqlQuery`. */
  readonly method: string;
  /** `host:port` that answered. */
  readonly endpoint: string;

  constructor(message: string, method: string, endpoint: string) {
    super(StatusCode.STATUS_CODE_UNIMPLEMENTED, message, { retryable: false });
    this.method = method;
    this.endpoint = endpoint;
  }
}

/** A SQL statement failed on the server (bad SQL, unknown table, its own timeout...). */
export class HoraeDBQueryError extends HoraeDBError {
  override readonly name = "HoraeDBQueryError";
  /** The statement that failed. */
  readonly sql: string;

  constructor(code: StatusCode, message: string, sql: string, options: HoraeDBErrorOptions = {}) {
    super(code, message, options);
    this.sql = sql;
  }
}

/** Rows of one table request that were not written, and why. */
export interface TableWriteFailure {
  /** The table. */
  readonly table: string;
  /** Final status; never `STATUS_CODE_ROUTE_STALE` (a route that stays stale ends as UNAVAILABLE). */
  readonly code: StatusCode;
  /** The server's message (or the transport failure's). */
  readonly message: string;
  /** Rows in the table request that failed. */
  readonly rows: number;
  /** How many times the rows were sent. */
  readonly attempts: number;
  /** Whether a later retry may succeed (the SDK gave up on attempts or the deadline). */
  readonly retryable: boolean;
  /** The transport failure, when the rows failed outside the server's handler. */
  readonly cause?: HoraeDBError;
}

/** Rows written to one table by one call. */
export interface TableWriteSummary {
  readonly table: string;
  readonly rows: number;
}

/**
 * Some table requests of a write were not written. Each table request is applied whole or not at
 * all, so `failures` lists exactly what is missing and `written` what landed in the same call.
 */
export class HoraeDBWriteError extends HoraeDBError {
  override readonly name = "HoraeDBWriteError";
  /** Table requests not written, in the order they failed. */
  readonly failures: readonly TableWriteFailure[];
  /** Tables written by the same call. */
  readonly written: readonly TableWriteSummary[];

  constructor(failures: readonly TableWriteFailure[], written: readonly TableWriteSummary[]) {
    const first = failures[0];
    if (first === undefined) throw new RangeError("HoraeDBWriteError needs at least one failure");
    const tables = [...new Set(failures.map((f) => f.table))];
    const rows = failures.reduce((sum, f) => sum + f.rows, 0);
    super(
      first.code,
      `${rows} row(s) of ${tables.length} table(s) not written; ${first.table}: ${first.message}` +
        (failures.length > 1 ? ` (and ${failures.length - 1} more failure(s))` : ""),
      { retryable: failures.every((f) => f.retryable), cause: first.cause },
    );
    this.failures = failures;
    this.written = written;
  }

  /** Tables with at least one failed request. */
  get tables(): readonly string[] {
    return [...new Set(this.failures.map((f) => f.table))];
  }
}

/**
 * gRPC codes after which a call may succeed when repeated: the connection was (or became) unusable,
 * or the call ran out of time. Whether the request had already been applied is unknown.
 */
const TRANSIENT_GRPC_CODES: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
]);

/** The horaedb status closest to a gRPC status. */
function statusOfGrpc(code: GrpcStatus): StatusCode {
  switch (code) {
    case GrpcStatus.OK:
      return StatusCode.STATUS_CODE_OK;
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.OUT_OF_RANGE:
      return StatusCode.STATUS_CODE_INVALID_ARGUMENT;
    case GrpcStatus.NOT_FOUND:
      return StatusCode.STATUS_CODE_NOT_FOUND;
    case GrpcStatus.ALREADY_EXISTS:
      return StatusCode.STATUS_CODE_ALREADY_EXISTS;
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return StatusCode.STATUS_CODE_RESOURCE_EXHAUSTED;
    case GrpcStatus.UNAVAILABLE:
      return StatusCode.STATUS_CODE_UNAVAILABLE;
    case GrpcStatus.DEADLINE_EXCEEDED:
      return StatusCode.STATUS_CODE_DEADLINE_EXCEEDED;
    case GrpcStatus.CANCELLED:
      return StatusCode.STATUS_CODE_CANCELLED;
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.PERMISSION_DENIED:
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.ABORTED:
      return StatusCode.STATUS_CODE_FAILED_PRECONDITION;
    case GrpcStatus.UNIMPLEMENTED:
      return StatusCode.STATUS_CODE_UNIMPLEMENTED;
    default:
      return StatusCode.STATUS_CODE_INTERNAL;
  }
}
