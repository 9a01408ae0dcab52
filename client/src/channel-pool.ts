import * as grpc from "@grpc/grpc-js";
import { loadStorageProto, storageServiceDefinition, type storage } from "@horaedb/proto";
import {
  HoraeDBClosedError,
  HoraeDBTransportError,
  HoraeDBUnsupportedError,
  type HoraeDBError,
} from "./errors.js";
import { Semaphore } from "./semaphore.js";
import { SQL_RESULT_PREFIX_BYTES, sqlResultOffset } from "./result-alignment.js";
import { Http2UnaryTransport, type MessageAlignment, type UnaryTransportOptions } from "./unary-transport.js";

/** SqlQuery responses are placed so that their first Arrow stream starts at a multiple of 8. */
const SQL_RESULT_ALIGNMENT: MessageAlignment = {
  prefixBytes: SQL_RESULT_PREFIX_BYTES,
  offset: sqlResultOffset,
};

/** The StorageService methods, by the name errors report. */
export type StorageMethod = "Route" | "Write" | "SqlQuery" | "StreamSqlQuery";

/** The unary StorageService methods and their responses. */
export interface UnaryResponses {
  Route: storage.RouteResponse__Output;
  Write: storage.WriteResponse__Output;
  SqlQuery: storage.SqlQueryResponse__Output;
}

/** The unary StorageService methods and their requests. */
export interface UnaryRequests {
  Route: storage.RouteRequest;
  Write: storage.WriteRequest;
  SqlQuery: storage.SqlQueryRequest;
}

/** A request message encoded already (the SDK encodes write requests itself, see series-encoder.ts). */
export interface EncodedRequest {
  readonly encoded: Uint8Array;
}

/** A server-streaming call in progress, with the permit it holds on its endpoint. */
export interface OpenStream<Res> {
  readonly call: grpc.ClientReadableStream<Res>;
  /** Gives the endpoint permit back; call once the stream has ended or been cancelled. */
  readonly release: () => void;
}

interface Channel {
  /** The grpc-js client of streaming calls, created on the first one. */
  stub: storage.StorageServiceClient | undefined;
  readonly unary: Http2UnaryTransport;
  readonly permits: Semaphore;
}

/**
 * The connections to each endpoint, created on first use and reused by every call, with a bound on
 * the calls in flight per endpoint (further calls wait for a permit): unary calls go over the SDK's
 * own HTTP/2 session (see unary-transport.ts), streaming calls over a grpc-js channel. Failed calls
 * reject with HoraeDBTransportError, or HoraeDBUnsupportedError for gRPC UNIMPLEMENTED.
 */
export class ChannelPool {
  readonly #channels = new Map<string, Channel>();
  readonly #channelOptions: grpc.ChannelOptions;
  readonly #unaryOptions: UnaryTransportOptions;
  readonly #maxInFlightPerEndpoint: number;
  #closed = false;

  constructor(channelOptions: grpc.ChannelOptions, maxInFlightPerEndpoint: number) {
    this.#channelOptions = channelOptions;
    this.#unaryOptions = unaryTransportOptions(channelOptions);
    this.#maxInFlightPerEndpoint = maxInFlightPerEndpoint;
  }

  /** Endpoints a channel has been opened to. */
  get endpoints(): readonly string[] {
    return [...this.#channels.keys()];
  }

  /**
   * Runs one unary call on `endpoint` once a permit is free; `deadline` is a clock time in ms.
   * The request is a message to encode, or one encoded already.
   */
  async unary<M extends keyof UnaryResponses>(
    endpoint: string,
    method: M,
    deadline: number,
    request: UnaryRequests[M] | EncodedRequest,
  ): Promise<UnaryResponses[M]> {
    const channel = this.#channel(endpoint);
    const definition = storageServiceDefinition()[method];
    const encoded =
      "encoded" in request
        ? request.encoded
        : (definition.requestSerialize as (message: UnaryRequests[M]) => Buffer)(request);
    const release = await channel.permits.acquire();
    let bytes: Buffer;
    try {
      if (this.#closed) throw new HoraeDBClosedError("client");
      bytes = await channel.unary.call(
        definition.path,
        encoded,
        deadline,
        method === "SqlQuery" ? SQL_RESULT_ALIGNMENT : undefined,
      );
    } catch (error) {
      throw isStatusError(error) ? grpcCallError(error, endpoint, method) : error;
    } finally {
      release();
    }
    try {
      return definition.responseDeserialize(bytes) as UnaryResponses[M];
    } catch (error) {
      throw new HoraeDBTransportError(
        grpc.status.INTERNAL,
        `the ${method} response could not be decoded: ${error instanceof Error ? error.message : String(error)}`,
        endpoint,
        method,
      );
    }
  }

  /** Starts a server-streaming SqlQuery on `endpoint` once a permit is free. */
  async streamSqlQuery(
    endpoint: string,
    request: storage.SqlQueryRequest,
    deadline: number,
  ): Promise<OpenStream<storage.SqlQueryResponse__Output>> {
    const channel = this.#channel(endpoint);
    const release = await channel.permits.acquire();
    if (this.#closed) {
      release();
      throw new HoraeDBClosedError("client");
    }
    return { call: this.#stub(channel, endpoint).streamSqlQuery(request, { deadline }), release };
  }

  /** Closes every channel; calls in flight fail with gRPC CANCELLED or UNAVAILABLE. */
  close(): void {
    this.#closed = true;
    for (const channel of this.#channels.values()) {
      channel.stub?.close();
      channel.unary.close();
    }
    this.#channels.clear();
  }

  #channel(endpoint: string): Channel {
    if (this.#closed) throw new HoraeDBClosedError("client");
    let channel = this.#channels.get(endpoint);
    if (channel === undefined) {
      channel = {
        stub: undefined,
        unary: new Http2UnaryTransport(endpoint, this.#unaryOptions),
        permits: new Semaphore(this.#maxInFlightPerEndpoint),
      };
      this.#channels.set(endpoint, channel);
    }
    return channel;
  }

  #stub(channel: Channel, endpoint: string): storage.StorageServiceClient {
    if (channel.stub === undefined) {
      const { StorageService } = loadStorageProto().horaedb.storage.v1;
      channel.stub = new StorageService(endpoint, grpc.credentials.createInsecure(), this.#channelOptions);
    }
    return channel.stub;
  }
}

/** grpc-js's defaults for the channel options unary calls honour. */
const DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;
const DEFAULT_FLOW_CONTROL_WINDOW_BYTES = 65_535;

/** The settings of unary calls out of the channel options that apply to them. */
export function unaryTransportOptions(options: grpc.ChannelOptions): UnaryTransportOptions {
  const number = (name: string, fallback: number) => {
    const value: unknown = options[name];
    return typeof value === "number" ? value : fallback;
  };
  return {
    flowControlWindowBytes: number("grpc-node.flow_control_window", DEFAULT_FLOW_CONTROL_WINDOW_BYTES),
    maxReceiveMessageBytes: number("grpc.max_receive_message_length", DEFAULT_MAX_RECEIVE_MESSAGE_BYTES),
    maxSendMessageBytes: number("grpc.max_send_message_length", -1),
  };
}

/** A gRPC status carried by an error (grpc-js's ServiceError, the unary transport's error). */
export interface StatusError {
  readonly code: grpc.status;
  readonly details: string;
}

function isStatusError(error: unknown): error is StatusError {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === "number" &&
    typeof (error as { details?: unknown }).details === "string"
  );
}

/** The typed error for a failed gRPC call. */
export function grpcCallError(error: StatusError, endpoint: string, method: StorageMethod): HoraeDBError {
  if (error.code === grpc.status.UNIMPLEMENTED) {
    return new HoraeDBUnsupportedError(error.details, method, endpoint);
  }
  return new HoraeDBTransportError(error.code, error.details, endpoint, method);
}
