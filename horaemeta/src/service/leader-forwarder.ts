/**
 * Forwards a MetaService call that reached a replica which is not the leader to the leader, whose
 * gRPC endpoint is the value it campaigned with. The caller sees the leader's answer unchanged.
 */
import * as grpc from "@grpc/grpc-js";
import { metaServiceDefinition } from "@horaedb/proto";
import { ForwardingError, NoLeaderError, NotLeaderError } from "../errors.js";

/** Metadata key a forwarded call carries (the forwarding replica), so it is never forwarded twice. */
export const FORWARDED_BY_METADATA_KEY = "x-horaemeta-forwarded-by";

/** The methods of MetaService (its definition type also has an index signature, hence the list). */
export type MetaServiceMethod =
  | "NodeHeartbeat"
  | "AllocSchemaId"
  | "CreateTable"
  | "DropTable"
  | "RouteTables"
  | "GetTablesOfShards"
  | "GetNodes";

/** Where the leader is, as the election knows it. */
export interface LeaderLocator {
  /** This replica's endpoint, once it campaigns. */
  readonly candidate: string | undefined;
  /** The current leader's endpoint from etcd, or undefined when no replica leads. */
  leader(): Promise<string | undefined>;
}

export interface LeaderForwarderOptions {
  readonly locator: LeaderLocator;
  /** Longest wait for the leader's answer; the incoming call's own deadline applies when shorter. */
  readonly timeoutMs: number;
}

export class LeaderForwarder {
  readonly #options: LeaderForwarderOptions;
  /** One client per leader endpoint; only the latest leader's is kept open. */
  #client: { readonly endpoint: string; readonly client: grpc.Client } | undefined;
  #closed = false;

  constructor(options: LeaderForwarderOptions) {
    this.#options = options;
  }

  /** The leader's response to `request`; throws a HoraeMetaError when there is no leader to ask. */
  async forward<Response>(
    method: MetaServiceMethod,
    request: unknown,
    call: grpc.ServerUnaryCall<unknown, unknown>,
  ): Promise<Response> {
    const self = this.#options.locator.candidate ?? "(not campaigning)";
    const forwardedBy = call.metadata.get(FORWARDED_BY_METADATA_KEY)[0];
    if (forwardedBy !== undefined) {
      throw new NotLeaderError(
        self,
        `${String(forwardedBy)} forwarded the call here, but the leadership has moved`,
      );
    }
    const leader = await this.#options.locator.leader();
    if (leader === undefined) throw new NoLeaderError("no replica is elected (an election is under way)");
    if (leader === self) {
      throw new NotLeaderError(
        self,
        "etcd still names this replica, whose term has ended; a new leader is being elected",
      );
    }
    const client = this.#clientFor(leader);
    const definition = metaServiceDefinition()[method];
    const metadata = new grpc.Metadata();
    metadata.set(FORWARDED_BY_METADATA_KEY, self);
    return new Promise<Response>((resolve, reject) => {
      client.makeUnaryRequest<unknown, Response>(
        definition.path,
        definition.requestSerialize as (value: unknown) => Buffer,
        definition.responseDeserialize as (bytes: Buffer) => Response,
        request,
        metadata,
        {
          deadline: Date.now() + this.#options.timeoutMs,
          // The caller's deadline (when shorter) and its cancellation carry over to the leader.
          parent: call,
          propagate_flags: grpc.propagate.DEADLINE | grpc.propagate.CANCELLATION,
        },
        (error, response) => {
          if (error !== null || response === undefined) {
            reject(new ForwardingError(leader, method, error?.details ?? "no response", { cause: error }));
          } else {
            resolve(response);
          }
        },
      );
    });
  }

  close(): void {
    this.#closed = true;
    this.#client?.client.close();
    this.#client = undefined;
  }

  #clientFor(endpoint: string): grpc.Client {
    if (this.#closed)
      throw new NotLeaderError(this.#options.locator.candidate ?? "", "this replica is stopping");
    if (this.#client?.endpoint === endpoint) return this.#client.client;
    this.#client?.client.close();
    const client = new grpc.Client(endpoint, grpc.credentials.createInsecure());
    this.#client = { endpoint, client };
    return client;
  }
}
