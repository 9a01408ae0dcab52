/**
 * gRPC unary calls over one `node:http2` session per endpoint.
 *
 * A unary call is one HTTP/2 request: a length-prefixed message out, a length-prefixed message and
 * the status trailers back. `@grpc/grpc-js` runs each call through its channel, resolver,
 * load-balancer, retry and interceptor layers, which on this machine cost about a third of a
 * millisecond of CPU per call on the client: a third of the round trip of a small query. The SDK
 * does its own routing and retries, so its unary calls (Route, Write, SqlQuery) go straight to the
 * session; streaming calls stay on grpc-js. The wire format is gRPC's (PROTOCOL-HTTP2.md), so the
 * server sees an ordinary gRPC client.
 */
import http2 from "node:http2";
import { inflateSync, gunzipSync } from "node:zlib";
import { status as GrpcStatus } from "@grpc/grpc-js";

/** A failed unary call: its gRPC status code and message, as grpc-js reports a ServiceError. */
export class UnaryCallError extends Error {
  override readonly name = "UnaryCallError";
  readonly code: GrpcStatus;
  readonly details: string;

  constructor(code: GrpcStatus, details: string) {
    super(`${GrpcStatus[code] ?? code}: ${details}`);
    this.code = code;
    this.details = details;
  }
}

/** Settings of the sessions a transport opens. */
export interface UnaryTransportOptions {
  /** HTTP/2 receive window of the connection and of each call, in bytes. */
  readonly flowControlWindowBytes: number;
  /** Largest response message accepted, in bytes; -1 for no limit. */
  readonly maxReceiveMessageBytes: number;
  /** Largest request message sent, in bytes; -1 for no limit. */
  readonly maxSendMessageBytes: number;
}

/**
 * Where in a response message some bytes should start at a multiple of 8 (see result-alignment.ts):
 * `offset` is given the message's first `prefixBytes` bytes (fewer if the message is shorter).
 */
export interface MessageAlignment {
  readonly prefixBytes: number;
  readonly offset: (prefix: Uint8Array) => number | undefined;
}

/** Sent as `user-agent` so server logs can tell the SDK's calls apart. */
const USER_AGENT = "horaedb-client-ts/0.1.0";
/** gRPC's length prefix: a compressed flag and a 32-bit big-endian length. */
const PREFIX_BYTES = 5;
/** grpc-timeout allows at most eight digits. */
const MAX_TIMEOUT_DIGITS = 99_999_999;

const {
  HTTP2_HEADER_STATUS,
  HTTP2_HEADER_CONTENT_TYPE,
  NGHTTP2_CANCEL,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_NO_ERROR,
} = http2.constants;

/**
 * Unary gRPC calls to one endpoint over a single HTTP/2 session, opened on first use and opened
 * again after it fails or the server sends GOAWAY. The session does not keep the process alive
 * while no call is in flight.
 */
export class Http2UnaryTransport {
  readonly #authority: string;
  readonly #options: UnaryTransportOptions;
  #session: http2.ClientHttp2Session | undefined;
  #inFlight = 0;
  #closed = false;

  constructor(endpoint: string, options: UnaryTransportOptions) {
    this.#authority = `http://${endpoint}`;
    this.#options = options;
  }

  /**
   * Sends `request` (an encoded message) to `path` and resolves with the response message's bytes,
   * placed as `alignment` asks if given; rejects with UnaryCallError for a non-OK status, a failed
   * connection (UNAVAILABLE) or the deadline (DEADLINE_EXCEEDED, a clock time in ms).
   */
  call(path: string, request: Uint8Array, deadline: number, alignment?: MessageAlignment): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const timeoutMs = Math.ceil(deadline - Date.now());
      if (timeoutMs <= 0) {
        reject(new UnaryCallError(GrpcStatus.DEADLINE_EXCEEDED, "Deadline exceeded before the call started"));
        return;
      }
      const maxSend = this.#options.maxSendMessageBytes;
      if (maxSend >= 0 && request.byteLength > maxSend) {
        reject(
          new UnaryCallError(
            GrpcStatus.RESOURCE_EXHAUSTED,
            `Sent message larger than max (${request.byteLength} vs. ${maxSend})`,
          ),
        );
        return;
      }
      let stream: http2.ClientHttp2Stream;
      const session = this.#openSession();
      try {
        stream = session.request({
          ":method": "POST",
          ":path": path,
          "content-type": "application/grpc",
          te: "trailers",
          "user-agent": USER_AGENT,
          "grpc-accept-encoding": "identity",
          "grpc-timeout": grpcTimeout(timeoutMs),
        });
      } catch (error) {
        // The session is closing (GOAWAY) or destroyed: nothing was sent.
        this.#dropSession(session);
        reject(new UnaryCallError(GrpcStatus.UNAVAILABLE, `Connection unavailable: ${messageOf(error)}`));
        return;
      }
      this.#callStarted(session);
      const reader = new ResponseReader(this.#options.maxReceiveMessageBytes, alignment);
      let settled = false;
      const finish = (error: UnaryCallError | undefined, message?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#callEnded(session);
        if (error !== undefined) {
          if (!stream.closed) stream.close(NGHTTP2_CANCEL);
          reject(error);
        } else {
          resolve(message as Buffer);
        }
      };
      const timer = setTimeout(
        () => finish(new UnaryCallError(GrpcStatus.DEADLINE_EXCEEDED, "Deadline exceeded")),
        timeoutMs,
      );
      let transportError: Error | undefined;
      stream.on("response", (headers, flags) => {
        const failure = reader.headers(headers, (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0);
        if (failure !== undefined) finish(failure);
      });
      stream.on("data", (chunk: Buffer) => {
        const failure = reader.data(chunk);
        if (failure !== undefined) finish(failure);
      });
      stream.on("trailers", (trailers: http2.IncomingHttpHeaders) => reader.trailers(trailers));
      stream.on("error", (error: Error) => {
        transportError = error;
      });
      stream.on("close", () => {
        const outcome = reader.outcome(stream.rstCode ?? NGHTTP2_NO_ERROR, transportError);
        if (outcome instanceof UnaryCallError) finish(outcome);
        else finish(undefined, outcome);
      });
      stream.end(framed(request));
    });
  }

  /** Closes the session; calls in flight end with CANCELLED or UNAVAILABLE. */
  close(): void {
    this.#closed = true;
    this.#session?.destroy();
    this.#session = undefined;
  }

  #openSession(): http2.ClientHttp2Session {
    const current = this.#session;
    if (current !== undefined && !current.closed && !current.destroyed) return current;
    if (this.#closed) throw new UnaryCallError(GrpcStatus.CANCELLED, "the client is closed");
    const window = this.#options.flowControlWindowBytes;
    const session = http2.connect(this.#authority, {
      settings: { initialWindowSize: window },
      // Large writes in flight must not trip Node's own session memory cap (grpc-js lifts it too).
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
    });
    session.once("remoteSettings", () => {
      // The connection's window starts at 64 KiB whatever the settings say; widen it up front.
      if (window > 65_535 && !session.destroyed) session.setLocalWindowSize(window);
    });
    // Calls see the failure on their streams; the session is just replaced.
    session.on("error", () => this.#dropSession(session));
    session.on("goaway", () => this.#dropSession(session));
    session.on("close", () => this.#dropSession(session));
    session.unref();
    this.#session = session;
    this.#inFlight = 0;
    return session;
  }

  #dropSession(session: http2.ClientHttp2Session): void {
    if (this.#session !== session) return;
    this.#session = undefined;
    if (!session.closed) session.close();
  }

  #callStarted(session: http2.ClientHttp2Session): void {
    if (session !== this.#session) return;
    if (this.#inFlight++ === 0) session.ref();
  }

  #callEnded(session: http2.ClientHttp2Session): void {
    if (session !== this.#session) return;
    if (--this.#inFlight === 0 && !session.destroyed) session.unref();
  }
}

/** grpc-timeout's value for `ms` milliseconds (at most eight digits, so seconds above that). */
export function grpcTimeout(ms: number): string {
  return ms <= MAX_TIMEOUT_DIGITS ? `${ms}m` : `${Math.ceil(ms / 1000)}S`;
}

function framed(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, PREFIX_BYTES);
  return frame;
}

/**
 * What a unary response says: its HTTP status and content type, its one message and the gRPC status
 * in its trailers (or in its headers, for a response without a body).
 */
class ResponseReader {
  readonly #maxReceive: number;
  readonly #alignment: MessageAlignment | undefined;
  #httpStatus: number | undefined;
  #encoding = "identity";
  #chunks: Buffer[] = [];
  #bytes = 0;
  #status: { code: GrpcStatus; details: string } | undefined;

  constructor(maxReceive: number, alignment?: MessageAlignment) {
    this.#maxReceive = maxReceive;
    this.#alignment = alignment;
  }

  headers(headers: http2.IncomingHttpHeaders, endStream: boolean): UnaryCallError | undefined {
    this.#httpStatus = Number(headers[HTTP2_HEADER_STATUS]);
    if (this.#httpStatus !== 200) return undefined; // mapped when the stream closes
    const contentType = String(headers[HTTP2_HEADER_CONTENT_TYPE] ?? "");
    if (!contentType.startsWith("application/grpc")) {
      return new UnaryCallError(GrpcStatus.UNKNOWN, `Received content type "${contentType}", not gRPC`);
    }
    const encoding = headers["grpc-encoding"];
    if (typeof encoding === "string") this.#encoding = encoding;
    if (endStream || headers["grpc-status"] !== undefined) this.trailers(headers);
    return undefined;
  }

  data(chunk: Buffer): UnaryCallError | undefined {
    this.#chunks.push(chunk);
    this.#bytes += chunk.byteLength;
    if (this.#maxReceive >= 0 && this.#bytes > this.#maxReceive + PREFIX_BYTES) {
      return new UnaryCallError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `Received message larger than max (${this.#bytes - PREFIX_BYTES} vs. ${this.#maxReceive})`,
      );
    }
    return undefined;
  }

  trailers(trailers: http2.IncomingHttpHeaders): void {
    const code = Number(trailers["grpc-status"]);
    const message = trailers["grpc-message"];
    this.#status = {
      code: Number.isInteger(code) && code >= 0 && code <= 16 ? code : GrpcStatus.UNKNOWN,
      details: typeof message === "string" ? percentDecoded(message) : "",
    };
  }

  /** The response message, or the error the call ended with once its stream has closed. */
  outcome(rstCode: number, transportError: Error | undefined): Buffer | UnaryCallError {
    const status = this.#status;
    if (status === undefined) return this.#noStatus(rstCode, transportError);
    if (status.code !== GrpcStatus.OK) return new UnaryCallError(status.code, status.details);
    const body = this.#body();
    if (body.byteLength < PREFIX_BYTES) {
      return new UnaryCallError(GrpcStatus.INTERNAL, "the call ended without a response");
    }
    const length = body.readUInt32BE(1);
    if (body.byteLength !== PREFIX_BYTES + length) {
      return new UnaryCallError(
        GrpcStatus.INTERNAL,
        `a unary response must hold one message: ${body.byteLength} bytes for a message of ${length}`,
      );
    }
    const message = body.subarray(PREFIX_BYTES);
    return body[0] === 0 ? message : this.#decompressed(message);
  }

  /** The frame's bytes in one buffer, the message placed as the alignment asks (if it can be). */
  #body(): Buffer {
    const chunks = this.#chunks;
    const alignment = this.#alignment;
    if (alignment !== undefined && this.#bytes > PREFIX_BYTES) {
      const offset = alignment.offset(this.#peek(PREFIX_BYTES, alignment.prefixBytes));
      if (offset !== undefined) return joinAligned(chunks, this.#bytes, PREFIX_BYTES + offset);
    }
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }

  /** Up to `length` bytes of the frame from `start`, gathered across chunks. */
  #peek(start: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.#bytes - start)));
    let chunkStart = 0;
    for (const chunk of this.#chunks) {
      const from = Math.max(start - chunkStart, 0);
      const to = Math.min(chunk.byteLength, start + out.byteLength - chunkStart);
      if (from < to) out.set(chunk.subarray(from, to), chunkStart + from - start);
      chunkStart += chunk.byteLength;
      if (chunkStart >= start + out.byteLength) break;
    }
    return out;
  }

  #decompressed(message: Buffer): Buffer | UnaryCallError {
    try {
      if (this.#encoding === "gzip") return gunzipSync(message);
      if (this.#encoding === "deflate") return inflateSync(message);
    } catch (error) {
      return new UnaryCallError(
        GrpcStatus.INTERNAL,
        `Could not decompress the response: ${messageOf(error)}`,
      );
    }
    return new UnaryCallError(
      GrpcStatus.INTERNAL,
      `Received a compressed message in encoding "${this.#encoding}", which was not accepted`,
    );
  }

  /** gRPC's mapping of a stream that ended without a status (see grpc-js's subchannel call). */
  #noStatus(rstCode: number, transportError: Error | undefined): UnaryCallError {
    if (transportError !== undefined && !isStreamReset(transportError)) {
      return new UnaryCallError(GrpcStatus.UNAVAILABLE, `Connection dropped: ${transportError.message}`);
    }
    const httpStatus = this.#httpStatus;
    if (httpStatus !== undefined && httpStatus !== 200) return httpStatusError(httpStatus);
    switch (rstCode) {
      case NGHTTP2_REFUSED_STREAM:
        return new UnaryCallError(GrpcStatus.UNAVAILABLE, "Stream refused by server");
      case NGHTTP2_CANCEL:
        return new UnaryCallError(GrpcStatus.UNAVAILABLE, "Connection dropped");
      case NGHTTP2_ENHANCE_YOUR_CALM:
        return new UnaryCallError(
          GrpcStatus.RESOURCE_EXHAUSTED,
          "Bandwidth exhausted or memory limit exceeded",
        );
      case NGHTTP2_NO_ERROR:
        return new UnaryCallError(GrpcStatus.INTERNAL, "the call ended without a gRPC status");
      default:
        return new UnaryCallError(GrpcStatus.INTERNAL, `Received RST_STREAM with code ${rstCode}`);
    }
  }
}

/**
 * The chunks joined into one buffer whose byte `at` lies at a multiple of 8 in its memory. A single
 * chunk that is so placed already is kept as it is.
 */
function joinAligned(chunks: readonly Buffer[], total: number, at: number): Buffer {
  const [first] = chunks;
  if (chunks.length === 1 && first !== undefined && (first.byteOffset + at) % 8 === 0) return first;
  const pad = (8 - (at % 8)) % 8;
  // An ArrayBuffer of its own, so that the buffer starts at offset 0 of its memory.
  const joined = Buffer.allocUnsafeSlow(pad + total);
  let offset = pad;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined.subarray(pad);
}

function isStreamReset(error: Error): boolean {
  return (error as { code?: unknown }).code === "ERR_HTTP2_STREAM_ERROR";
}

/** gRPC's mapping of an HTTP status other than 200 (PROTOCOL-HTTP2.md, "HTTP to gRPC status"). */
function httpStatusError(httpStatus: number): UnaryCallError {
  const details = `Received HTTP status code ${httpStatus}`;
  switch (httpStatus) {
    case 400:
      return new UnaryCallError(GrpcStatus.INTERNAL, details);
    case 401:
      return new UnaryCallError(GrpcStatus.UNAUTHENTICATED, details);
    case 403:
      return new UnaryCallError(GrpcStatus.PERMISSION_DENIED, details);
    case 404:
      return new UnaryCallError(GrpcStatus.UNIMPLEMENTED, details);
    case 429:
    case 502:
    case 503:
    case 504:
      return new UnaryCallError(GrpcStatus.UNAVAILABLE, details);
    default:
      return new UnaryCallError(GrpcStatus.UNKNOWN, details);
  }
}

/** grpc-message is percent-encoded; a malformed escape is left as sent. */
function percentDecoded(message: string): string {
  if (!message.includes("%")) return message;
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
