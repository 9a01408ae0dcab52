/**
 * The metadata of Arrow IPC RecordBatch and DictionaryBatch messages, read straight from their
 * flatbuffers (Message.fbs, Schema.fbs). Arrow's `Message.decode` builds an object per field node and
 * per buffer through the generic flatbuffers runtime, which for a small query result costs more than
 * the rest of reading it; these are plain reads of the fields `readFlatStream` uses.
 */

/** `MessageHeader.DictionaryBatch` and `MessageHeader.RecordBatch` in Message.fbs. */
export const HEADER_DICTIONARY_BATCH = 2;
export const HEADER_RECORD_BATCH = 3;
/** `MetadataVersion.V4`: the first version with the 8-byte aligned, continuation-marked format. */
const METADATA_V4 = 3;

/** A column's length and null count (Message.fbs `FieldNode`). */
export interface FieldNodeLayout {
  readonly length: number;
  readonly nullCount: number;
}

/** Where a buffer lies in the message body (Schema.fbs `Buffer`). */
export interface BufferLayout {
  readonly offset: number;
  readonly length: number;
}

/** A RecordBatch table: its row count, a node per column (depth first), its buffers in order. */
export interface RecordBatchLayout {
  readonly length: number;
  readonly nodes: readonly FieldNodeLayout[];
  readonly buffers: readonly BufferLayout[];
  /** Whether the body is compressed (a BodyCompression is present). */
  readonly compressed: boolean;
}

/** A message with a record batch or dictionary batch header. */
export type BatchMessage =
  | { readonly kind: "record"; readonly bodyLength: number; readonly batch: RecordBatchLayout }
  | {
      readonly kind: "dictionary";
      readonly bodyLength: number;
      readonly id: number;
      readonly isDelta: boolean;
      readonly batch: RecordBatchLayout;
    };

/** One flatbuffer table: its position and its vtable. */
class FlatTable {
  readonly #view: DataView;
  readonly #position: number;
  readonly #vtable: number;
  readonly #vtableSize: number;

  constructor(view: DataView, position: number) {
    this.#view = view;
    this.#position = position;
    this.#vtable = position - view.getInt32(position, true);
    this.#vtableSize = view.getUint16(this.#vtable, true);
  }

  /** The field's offset in the table; 0 when absent (its default applies). */
  #offset(field: number): number {
    const entry = 4 + 2 * field;
    return entry < this.#vtableSize ? this.#view.getUint16(this.#vtable + entry, true) : 0;
  }

  has(field: number): boolean {
    return this.#offset(field) !== 0;
  }

  uint8(field: number, fallback: number): number {
    const offset = this.#offset(field);
    return offset === 0 ? fallback : this.#view.getUint8(this.#position + offset);
  }

  int16(field: number, fallback: number): number {
    const offset = this.#offset(field);
    return offset === 0 ? fallback : this.#view.getInt16(this.#position + offset, true);
  }

  int64(field: number): number {
    const offset = this.#offset(field);
    return offset === 0 ? 0 : readInt64(this.#view, this.#position + offset);
  }

  table(field: number): FlatTable | undefined {
    const offset = this.#offset(field);
    if (offset === 0) return undefined;
    const at = this.#position + offset;
    return new FlatTable(this.#view, at + this.#view.getUint32(at, true));
  }

  /** A vector's element count and the position of its first element; undefined when absent. */
  vector(field: number): { readonly start: number; readonly length: number } | undefined {
    const offset = this.#offset(field);
    if (offset === 0) return undefined;
    const at = this.#position + offset;
    const vector = at + this.#view.getUint32(at, true);
    return { start: vector + 4, length: this.#view.getUint32(vector, true) };
  }
}

/**
 * A little-endian int64 that must be a non-negative safe integer, as the lengths, offsets, counts
 * and dictionary ids read here are: a negative one would make the reader look back in the stream.
 */
function readInt64(view: DataView, at: number): number {
  const value = view.getUint32(at, true) + view.getInt32(at + 4, true) * 4294967296;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`int64 ${value} out of range`);
  return value;
}

/**
 * The header of a RecordBatch or DictionaryBatch message's metadata (the flatbuffer after the
 * continuation marker and length); undefined for any other message, one of a format before V4, or
 * one with something this reader leaves to Arrow's (custom metadata, variadic buffer counts).
 * Throws RangeError when the flatbuffer points outside `metadata`, or holds a negative length,
 * offset or id.
 */
export function readBatchMessage(metadata: Uint8Array): BatchMessage | undefined {
  const view = new DataView(metadata.buffer, metadata.byteOffset, metadata.byteLength);
  const message = new FlatTable(view, view.getUint32(0, true));
  // Message: version, header_type, header, bodyLength, custom_metadata.
  if (message.int16(0, 0) < METADATA_V4) return undefined;
  if ((message.vector(4)?.length ?? 0) > 0) return undefined;
  const headerType = message.uint8(1, 0);
  const header = message.table(2);
  if (header === undefined) return undefined;
  const bodyLength = message.int64(3);
  if (headerType === HEADER_RECORD_BATCH) {
    const batch = readRecordBatch(view, header);
    return batch === undefined ? undefined : { kind: "record", bodyLength, batch };
  }
  if (headerType !== HEADER_DICTIONARY_BATCH) return undefined;
  // DictionaryBatch: id, data, isDelta.
  const data = header.table(1);
  const batch = data === undefined ? undefined : readRecordBatch(view, data);
  if (batch === undefined) return undefined;
  return { kind: "dictionary", bodyLength, id: header.int64(0), isDelta: header.uint8(2, 0) !== 0, batch };
}

/** RecordBatch: length, nodes, buffers, compression, variadicBufferCounts. */
function readRecordBatch(view: DataView, table: FlatTable): RecordBatchLayout | undefined {
  if ((table.vector(4)?.length ?? 0) > 0) return undefined;
  const nodes: FieldNodeLayout[] = [];
  const nodeVector = table.vector(1);
  for (let i = 0, at = nodeVector?.start ?? 0; i < (nodeVector?.length ?? 0); i++, at += 16) {
    nodes.push({ length: readInt64(view, at), nullCount: readInt64(view, at + 8) });
  }
  const buffers: BufferLayout[] = [];
  const bufferVector = table.vector(2);
  for (let i = 0, at = bufferVector?.start ?? 0; i < (bufferVector?.length ?? 0); i++, at += 16) {
    buffers.push({ offset: readInt64(view, at), length: readInt64(view, at + 8) });
  }
  return { length: table.int64(0), nodes, buffers, compressed: table.has(3) };
}
