/**
 * Sends MetaEventService events (horaemeta -> instance) for the procedures. An event is retried with
 * backoff while the instance cannot be reached or answers a retryable status, until the event's
 * deadline; an instance's refusal (any other status) ends it at once. Every event is idempotent on the
 * instance's side (it carries the shard version it expects), so a retry after a lost answer is safe.
 */
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { isRetryableStatus, metaEventServiceDefinition, StatusCode, type common } from "@horaedb/proto";

/** The methods of MetaEventService. */
export type MetaEventMethod =
  | "OpenShard"
  | "CloseShard"
  | "CreateTableOnShard"
  | "DropTableOnShard"
  | "OpenTableOnShard"
  | "CloseTableOnShard"
  | "SwitchShardRole"
  | "SplitShard"
  | "MergeShards";

/** The instance answered the event with a status that retrying does not change. */
export class EventRefusedError extends Error {
  override readonly name = "EventRefusedError";
  readonly node: string;
  readonly method: MetaEventMethod;
  readonly code: StatusCode;
  readonly detail: string;

  constructor(node: string, method: MetaEventMethod, code: StatusCode, detail: string) {
    super(`${node} refused ${method}: ${code} ${detail}`);
    this.node = node;
    this.method = method;
    this.code = code;
    this.detail = detail;
  }
}

/** The instance did not accept the event before its deadline (unreachable, or kept answering busy). */
export class EventDeadlineError extends Error {
  override readonly name = "EventDeadlineError";
  readonly node: string;
  readonly method: MetaEventMethod;
  readonly attempts: number;

  constructor(node: string, method: MetaEventMethod, attempts: number, lastFailure: string) {
    super(`${node} did not accept ${method} after ${attempts} attempts: ${lastFailure}`);
    this.node = node;
    this.method = method;
    this.attempts = attempts;
  }
}

export interface EventSenderOptions {
  /** How long an event is retried before EventDeadlineError. */
  readonly deadlineMs: number;
  /** Longest wait for one attempt's answer. */
  readonly attemptTimeoutMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_EVENT_SENDER_OPTIONS: EventSenderOptions = {
  deadlineMs: 10_000,
  attemptTimeoutMs: 3_000,
  initialBackoffMs: 50,
  maxBackoffMs: 1_000,
};

interface EventResponse {
  readonly header?: common.ResponseHeader__Output | null;
}

export interface SendOptions {
  /** Ends the retries early (e.g. the leader's term ended). */
  readonly signal?: AbortSignal;
  /** Overrides the sender's deadline for this event. */
  readonly deadlineMs?: number;
}

export class MetaEventSender {
  readonly #options: EventSenderOptions;
  readonly #clients = new Map<string, grpc.Client>();
  #closed = false;

  constructor(options: Partial<EventSenderOptions> = {}) {
    this.#options = { ...DEFAULT_EVENT_SENDER_OPTIONS, ...options };
  }

  /**
   * Sends `request` to the instance at `node` (`host:port`) and resolves with its answer once the
   * instance accepted it (status OK).
   */
  async send<Response extends EventResponse>(
    node: string,
    method: MetaEventMethod,
    request: object,
    options: SendOptions = {},
  ): Promise<Response> {
    const deadline = Date.now() + (options.deadlineMs ?? this.#options.deadlineMs);
    let backoff = this.#options.initialBackoffMs;
    let attempts = 0;
    let lastFailure = "not attempted";
    for (;;) {
      options.signal?.throwIfAborted();
      attempts++;
      const attemptDeadline = Math.min(deadline, Date.now() + this.#options.attemptTimeoutMs);
      try {
        const response = await this.#call<Response>(node, method, request, attemptDeadline);
        const code = response.header?.code ?? StatusCode.STATUS_CODE_OK;
        if (code === StatusCode.STATUS_CODE_OK) return response;
        const message = response.header?.message ?? "";
        if (!isRetryableStatus(code)) throw new EventRefusedError(node, method, code, message);
        lastFailure = `${code} ${message}`;
      } catch (error) {
        if (error instanceof EventRefusedError) throw error;
        const status = (error as Partial<grpc.ServiceError>).code;
        if (status === grpc.status.UNIMPLEMENTED || status === grpc.status.INVALID_ARGUMENT) {
          throw new EventRefusedError(
            node,
            method,
            StatusCode.STATUS_CODE_UNIMPLEMENTED,
            (error as Error).message,
          );
        }
        lastFailure = (error as Error).message;
      }
      const wait = Math.min(backoff, deadline - Date.now());
      if (wait <= 0) throw new EventDeadlineError(node, method, attempts, lastFailure);
      await sleep(wait * (0.5 + Math.random() / 2), undefined, { signal: options.signal });
      backoff = Math.min(backoff * 2, this.#options.maxBackoffMs);
    }
  }

  /** Closes every connection; later sends fail. */
  close(): void {
    this.#closed = true;
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  #call<Response>(
    node: string,
    method: MetaEventMethod,
    request: object,
    deadline: number,
  ): Promise<Response> {
    const definition = metaEventServiceDefinition()[method];
    const client = this.#clientFor(node);
    return new Promise<Response>((resolve, reject) => {
      client.makeUnaryRequest<unknown, Response>(
        definition.path,
        definition.requestSerialize as (value: unknown) => Buffer,
        definition.responseDeserialize as (bytes: Buffer) => Response,
        request,
        new grpc.Metadata(),
        { deadline },
        (error, response) => {
          if (error !== null || response === undefined) reject(error ?? new Error("no response"));
          else resolve(response);
        },
      );
    });
  }

  #clientFor(node: string): grpc.Client {
    if (this.#closed) throw new Error("the event sender is closed");
    let client = this.#clients.get(node);
    if (client === undefined) {
      client = new grpc.Client(node, grpc.credentials.createInsecure());
      this.#clients.set(node, client);
    }
    return client;
  }
}
