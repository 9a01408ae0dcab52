/**
 * SqlQuery responses encoded by hand, with the result's Arrow streams written straight into the
 * message. Built as an object, a response's streams were written into buffers of their own, then
 * copied into the message by the protobuf encoder (which grpc-js copies once more, into its frame):
 * for a result of a few hundred KiB, a copy and an allocation that made V8 collect its old
 * generation more often (it counts ArrayBuffer memory towards starting a collection).
 */
import type { IpcStreamPlan } from "./arrow-ipc.js";

/** Marks EncodedMessage values, also across copies of this module. */
const ENCODED = Symbol.for("horaedb.EncodedMessage");

/** A response message encoded ahead of time: the method's serializer sends `bytes` as they are. */
export class EncodedMessage {
  readonly [ENCODED] = true;
  constructor(readonly bytes: Buffer) {}
}

function isEncoded(value: unknown): value is EncodedMessage {
  return typeof value === "object" && value !== null && (value as { [ENCODED]?: unknown })[ENCODED] === true;
}

/** `serialize`, but for EncodedMessage values, whose bytes are passed through. */
export function passingEncoded<T>(serialize: (value: T) => Buffer): (value: T | EncodedMessage) => Buffer {
  return (value) => (isEncoded(value) ? value.bytes : serialize(value));
}

/** Protobuf tags (field number << 3 | wire type 2, length-delimited) of the fields written. */
const SQL_RESPONSE_HEADER_TAG = (1 << 3) | 2;
const SQL_RESPONSE_ARROW_TAG = (3 << 3) | 2;
const ARROW_PAYLOAD_RECORD_BATCHES_TAG = (1 << 3) | 2;

/**
 * An OK SqlQueryResponse (storage.proto) whose `arrow` holds the streams, uncompressed:
 *
 *   header  = {}                  empty ResponseHeader: code OK, no message
 *   arrow   = { record_batches }  one entry per stream; compression left at COMPRESSION_NONE
 *
 * The message's bytes sit in their ArrayBuffer so that the first stream starts at a multiple of 8,
 * where the IPC writer's typed views of its buffers are aligned.
 */
export function encodeSqlResultResponse(streams: readonly IpcStreamPlan[]): EncodedMessage {
  let payloadBytes = 0;
  for (const stream of streams) payloadBytes += 1 + varintSize(stream.byteLength) + stream.byteLength;
  const total = 2 + 1 + varintSize(payloadBytes) + payloadBytes;
  const first = streams[0];
  const firstStart =
    first === undefined ? 0 : 2 + 1 + varintSize(payloadBytes) + 1 + varintSize(first.byteLength);
  const padding = (8 - (firstStart % 8)) % 8;
  const message = Buffer.from(new ArrayBuffer(padding + total), padding, total);
  let at = 0;
  message[at++] = SQL_RESPONSE_HEADER_TAG;
  message[at++] = 0;
  message[at++] = SQL_RESPONSE_ARROW_TAG;
  at = writeVarint(message, at, payloadBytes);
  for (const stream of streams) {
    message[at++] = ARROW_PAYLOAD_RECORD_BATCHES_TAG;
    at = writeVarint(message, at, stream.byteLength);
    stream.write(message, at);
    at += stream.byteLength;
  }
  if (at !== total) throw new RangeError(`encoded ${at} bytes of a ${total}-byte SqlQueryResponse`);
  return new EncodedMessage(message);
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) size++;
  return size;
}

function writeVarint(out: Buffer, start: number, value: number): number {
  let at = start;
  let v = value;
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}
