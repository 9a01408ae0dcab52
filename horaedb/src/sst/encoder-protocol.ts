/** Messages between SstEncoderPool and its worker threads. */
import type { ArrowColumnBuffers } from "./arrow-convert.js";
import type { ParquetEncodeSettings } from "./parquet-encode.js";

export interface EncoderRequest {
  readonly id: number;
  /** The rows as Arrow buffers; every buffer is transferred to the worker, not copied. */
  readonly columns: readonly ArrowColumnBuffers[];
  readonly settings: ParquetEncodeSettings;
}

export type EncoderReply =
  | { readonly id: number; readonly ok: true; readonly bytes: Uint8Array; readonly crc32c: string }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { readonly name: string; readonly message: string; readonly trap: boolean };
    };
