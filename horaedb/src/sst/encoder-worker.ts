/**
 * Entry point of an SST encoder worker thread: receives Arrow column buffers and settings, answers
 * with sealed Parquet bytes. Buffers travel both ways as transfers, not copies.
 */
import { parentPort } from "node:worker_threads";
import type { EncoderReply, EncoderRequest } from "./encoder-protocol.js";
import { encodeColumns } from "./parquet-encode.js";
import { isWasmTrap } from "./parquet-wasm.js";

const port = parentPort;
if (port === null) throw new Error("encoder-worker.js must run as a worker thread");

port.on("message", (request: EncoderRequest) => {
  let reply: EncoderReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const { bytes, crc32c } = encodeColumns(request.columns, request.settings);
    reply = { id: request.id, ok: true, bytes, crc32c };
    transfer.push(bytes.buffer as ArrayBuffer);
  } catch (error) {
    reply = {
      id: request.id,
      ok: false,
      error: {
        name: error instanceof Error ? error.name : "Error",
        message: error instanceof Error ? error.message : String(error),
        trap: isWasmTrap(error),
      },
    };
  }
  port.postMessage(reply, transfer);
});
