import * as grpc from "@grpc/grpc-js";
import { loadStorageProto, type storage } from "@horaedb/proto";
import {
  HoraeDBClosedError,
  HoraeDBTransportError,
  HoraeDBUnsupportedError,
  type HoraeDBError,
} from "./errors.js";
import { Semaphore } from "./semaphore.js";

/** The StorageService methods, by the name errors report. */
export type StorageMethod = "Route" | "Write" | "SqlQuery" | "StreamSqlQuery";

/** What a unary call needs from its caller: the stub to call it on, its deadline, the callback. */
export type UnaryInvocation<Res> = (
  stub: storage.StorageServiceClient,
  options: grpc.CallOptions,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

/** A server-streaming call in progress, with the permit it holds on its endpoint. */
export interface OpenStream<Res> {
  readonly call: grpc.ClientReadableStream<Res>;
  /** Gives the endpoint permit back; call once the stream has ended or been cancelled. */
  readonly release: () => void;
}

interface Channel {
  readonly stub: storage.StorageServiceClient;
  readonly permits: Semaphore;
}

/**
 * One gRPC channel per endpoint, created on first use and reused by every call, with a bound on the
 * calls in flight per endpoint (further calls wait for a permit). Failed calls reject with
 * HoraeDBTransportError, or HoraeDBUnsupportedError for gRPC UNIMPLEMENTED.
 */
export class ChannelPool {
  readonly #channels = new Map<string, Channel>();
  readonly #channelOptions: grpc.ChannelOptions;
  readonly #maxInFlightPerEndpoint: number;
  #closed = false;

  constructor(channelOptions: grpc.ChannelOptions, maxInFlightPerEndpoint: number) {
    this.#channelOptions = channelOptions;
    this.#maxInFlightPerEndpoint = maxInFlightPerEndpoint;
  }

  /** Endpoints a channel has been opened to. */
  get endpoints(): readonly string[] {
    return [...this.#channels.keys()];
  }

  /** Runs one unary call on `endpoint`'s channel once a permit is free. */
  async unary<Res>(
    endpoint: string,
    method: StorageMethod,
    deadline: number,
    invoke: UnaryInvocation<Res>,
  ): Promise<Res> {
    const channel = this.#channel(endpoint);
    const release = await channel.permits.acquire();
    try {
      if (this.#closed) throw new HoraeDBClosedError("client");
      return await new Promise<Res>((resolve, reject) => {
        invoke(channel.stub, { deadline }, (error, response) => {
          if (error !== null) reject(grpcCallError(error, endpoint, method));
          else if (response === undefined) reject(emptyResponse(endpoint, method));
          else resolve(response);
        });
      });
    } finally {
      release();
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
    return { call: channel.stub.streamSqlQuery(request, { deadline }), release };
  }

  /** Closes every channel; calls in flight fail with gRPC CANCELLED or UNAVAILABLE. */
  close(): void {
    this.#closed = true;
    for (const channel of this.#channels.values()) channel.stub.close();
    this.#channels.clear();
  }

  #channel(endpoint: string): Channel {
    if (this.#closed) throw new HoraeDBClosedError("client");
    let channel = this.#channels.get(endpoint);
    if (channel === undefined) {
      const { StorageService } = loadStorageProto().horaedb.storage.v1;
      channel = {
        stub: new StorageService(endpoint, grpc.credentials.createInsecure(), this.#channelOptions),
        permits: new Semaphore(this.#maxInFlightPerEndpoint),
      };
      this.#channels.set(endpoint, channel);
    }
    return channel;
  }
}

/** The typed error for a failed gRPC call. */
export function grpcCallError(
  error: grpc.ServiceError,
  endpoint: string,
  method: StorageMethod,
): HoraeDBError {
  if (error.code === grpc.status.UNIMPLEMENTED) {
    return new HoraeDBUnsupportedError(error.details, method, endpoint);
  }
  return new HoraeDBTransportError(error.code, error.details, endpoint, method);
}

function emptyResponse(endpoint: string, method: StorageMethod): HoraeDBError {
  return new HoraeDBTransportError(
    grpc.status.INTERNAL,
    "the call ended without a response",
    endpoint,
    method,
  );
}
