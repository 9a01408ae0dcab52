import type { ChannelOptions } from "@grpc/grpc-js";
import { normalizeEndpoint } from "./endpoint.js";
import { HoraeDBArgumentError } from "./errors.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.js";

/** Options of a `HoraeDBClient`; every one but `endpoints` has a default. */
export interface HoraeDBClientOptions {
  /**
   * `host:port` of one or more horaedb instances (port 8831 when omitted). Any of them answers Route;
   * writes and queries then go to each table's shard leader, which may be another instance.
   */
  readonly endpoints: readonly string[];
  /** Schema (database) of table names, unless a call names another. Default `public`. */
  readonly database?: string;
  /** Time limit of one gRPC call (one attempt), in ms. Default 10,000. */
  readonly requestTimeoutMs?: number;
  /** Time limit of a whole write, retries included, in ms. Default 60,000. */
  readonly writeTimeoutMs?: number;
  /** Default time limit of a SQL statement, retries included, in ms. Default 60,000. */
  readonly queryTimeoutMs?: number;
  /** How long a table's route is used before it is looked up again, in ms. Default 60,000. */
  readonly routeCacheTtlMs?: number;
  /** gRPC calls in flight per endpoint; more wait their turn. Default 16. */
  readonly maxInFlightPerEndpoint?: number;
  /**
   * Estimated size above which a write is split into several Write calls (and a table's rows into
   * several table requests), in bytes. Keep it well under the server's `engine.max_request_bytes`
   * (64 MiB by default). Default 8 MiB.
   */
  readonly maxRequestBytes?: number;
  /**
   * Payload codec: Arrow IPC streams written above `compressAboveBytes` are compressed with it, and
   * query results are requested in it (the server compresses results over 1 MiB). Default "zstd".
   */
  readonly compression?: PayloadCompression;
  /** Arrow IPC streams larger than this are sent compressed, in bytes. Default 1 MiB. */
  readonly compressAboveBytes?: number;
  /**
   * Whether a write whose outcome is unknown (the connection failed or the call timed out after it
   * was sent) may be sent again. True suits OVERWRITE tables (the default update mode), where a
   * repeated row replaces itself; set false when writing to APPEND tables, where it would be stored
   * twice. Default true.
   */
  readonly idempotentWrites?: boolean;
  /** Retry bounds; see `RetryPolicy`. */
  readonly retry?: Partial<RetryPolicy>;
  /** Extra `@grpc/grpc-js` channel options, applied over the SDK's. */
  readonly channelOptions?: ChannelOptions;
}

/** Codecs for payloads: zstd (fast, the default), gzip, or none. */
export type PayloadCompression = "zstd" | "gzip" | "none";

const PAYLOAD_COMPRESSIONS: readonly PayloadCompression[] = ["zstd", "gzip", "none"];

/** Options with every default filled in and every value checked. */
export interface ResolvedClientOptions {
  readonly endpoints: readonly string[];
  readonly database: string;
  readonly requestTimeoutMs: number;
  readonly writeTimeoutMs: number;
  readonly queryTimeoutMs: number;
  readonly routeCacheTtlMs: number;
  readonly maxInFlightPerEndpoint: number;
  readonly maxRequestBytes: number;
  readonly compression: PayloadCompression;
  readonly compressAboveBytes: number;
  readonly idempotentWrites: boolean;
  readonly retry: RetryPolicy;
  readonly channelOptions: ChannelOptions;
}

/** HTTP/2 receive window of a connection and of each call on it, in bytes (see SDK_CHANNEL_OPTIONS). */
const SDK_FLOW_CONTROL_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * Channel options the SDK sets: reconnect quickly after an instance restarts (gRPC's own default
 * waits 1 s, then up to 120 s), since writes are retried for a bounded time only; and a receive
 * window that holds a whole query result of several MiB: with HTTP/2's default of 64 KiB the server
 * may send only that much before the client's window updates come back, so a larger result takes a
 * network round trip per window. Channelz (gRPC's introspection) is off: nothing reads it, and its
 * per-call bookkeeping is not free.
 */
const SDK_CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 2_000,
  "grpc-node.flow_control_window": SDK_FLOW_CONTROL_WINDOW_BYTES,
  "grpc.enable_channelz": 0,
};

/** Fills in defaults; throws HoraeDBArgumentError naming the first bad option. */
export function resolveClientOptions(options: HoraeDBClientOptions): ResolvedClientOptions {
  if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) {
    throw new HoraeDBArgumentError("options.endpoints must list at least one host:port");
  }
  const endpoints = [...new Set(options.endpoints.map(normalizeEndpoint))];
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  positiveInteger("retry.maxAttempts", retry.maxAttempts);
  nonNegative("retry.initialBackoffMs", retry.initialBackoffMs);
  nonNegative("retry.maxBackoffMs", retry.maxBackoffMs);
  const database = options.database ?? "public";
  if (database.length === 0) throw new HoraeDBArgumentError("options.database must not be empty");
  return {
    endpoints,
    database,
    requestTimeoutMs: positive("requestTimeoutMs", options.requestTimeoutMs ?? 10_000),
    writeTimeoutMs: positive("writeTimeoutMs", options.writeTimeoutMs ?? 60_000),
    queryTimeoutMs: positive("queryTimeoutMs", options.queryTimeoutMs ?? 60_000),
    routeCacheTtlMs: nonNegative("routeCacheTtlMs", options.routeCacheTtlMs ?? 60_000),
    maxInFlightPerEndpoint: positiveInteger("maxInFlightPerEndpoint", options.maxInFlightPerEndpoint ?? 16),
    maxRequestBytes: positive("maxRequestBytes", options.maxRequestBytes ?? 8 * 1024 * 1024),
    compression: payloadCompression(options.compression ?? "zstd"),
    compressAboveBytes: nonNegative("compressAboveBytes", options.compressAboveBytes ?? 1024 * 1024),
    idempotentWrites: options.idempotentWrites ?? true,
    retry,
    channelOptions: { ...SDK_CHANNEL_OPTIONS, ...options.channelOptions },
  };
}

function payloadCompression(value: string): PayloadCompression {
  if (!PAYLOAD_COMPRESSIONS.includes(value as PayloadCompression)) {
    throw new HoraeDBArgumentError(
      `options.compression must be one of ${PAYLOAD_COMPRESSIONS.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value as PayloadCompression;
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !(value > 0)) {
    throw new HoraeDBArgumentError(`options.${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new HoraeDBArgumentError(`options.${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== "number" || !(value >= 0)) {
    throw new HoraeDBArgumentError(`options.${name} must be a number >= 0, got ${String(value)}`);
  }
  return value;
}
