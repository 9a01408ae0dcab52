import type { StatusCode } from "@horaedb/proto";

/** A request (or one table of it) cannot be served; carries the response status to answer with. */
export class RequestError extends Error {
  override readonly name = "RequestError";
  readonly status: StatusCode;
  readonly retryAfterMs: number;

  constructor(status: StatusCode, message: string, retryAfterMs = 0) {
    super(message);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}
