import { HoraeDBArgumentError } from "./errors.js";

/**
 * One typed field value, in the shape of the proto `Value` it is sent as: exactly one member is set.
 * 64-bit integers are decimal strings, exact beyond 2^53.
 */
export type FieldValue =
  | { readonly float64Value: number }
  | { readonly float32Value: number }
  | { readonly int64Value: string }
  | { readonly int32Value: number }
  | { readonly uint64Value: string }
  | { readonly boolValue: boolean }
  | { readonly stringValue: string }
  | { readonly varbinaryValue: Uint8Array };

/** A 64-bit integer as accepted by the builders: a bigint, a safe integer, or a decimal string. */
export type Int64Input = bigint | number | string;

/** A timestamp: milliseconds since the Unix epoch (number or bigint), or a Date. */
export type TimestampInput = number | bigint | Date;

/** Column name the series form reserves for the timestamp (storage.proto `SeriesRows`). */
export const TIMESTAMP_COLUMN = "timestamp";

/** Timestamps the server accepts: ±2^53 ms, exact as JavaScript numbers. */
const MAX_TIMESTAMP_MS = Number.MAX_SAFE_INTEGER;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** Fixed estimated cost of a row: its timestamp and framing. */
const ROW_OVERHEAD_BYTES = 16;
/** Estimated framing of one tag or field. */
const CELL_OVERHEAD_BYTES = 4;

/**
 * One row of a table, built fluently:
 *
 * ```ts
 * client.point("cpu").tag("host", "a").field("usage", 0.5).fieldInt64("count", 3n).timestamp(Date.now())
 * ```
 *
 * Tags are strings and name the series; fields are typed. A point whose timestamp is never set has
 * the time of its creation. Every builder validates its argument and throws HoraeDBArgumentError,
 * so a bad value is reported where it was written, not when the batch is sent.
 */
export class Point {
  /** The table the row belongs to. */
  readonly table: string;
  readonly #tags = new Map<string, string>();
  readonly #fields = new Map<string, FieldValue>();
  #timestampMs: number;
  #estimatedBytes: number;
  #seriesKey: string | undefined;

  /** A row of `table` timestamped now (see `timestamp()`). */
  constructor(table: string) {
    if (typeof table !== "string" || table.length === 0) {
      throw new HoraeDBArgumentError("a point needs a non-empty table name");
    }
    this.table = table;
    this.#timestampMs = Date.now();
    this.#estimatedBytes = ROW_OVERHEAD_BYTES + table.length;
  }

  /** Sets a tag (a string that, with the other tags, names the series). */
  tag(name: string, value: string): this {
    this.#checkName(name, "tag");
    if (typeof value !== "string") throw this.#invalid(`tag "${name}" must be a string, got ${typeof value}`);
    const previous = this.#tags.get(name);
    if (previous !== undefined) this.#estimatedBytes -= cellBytes(name, previous.length);
    this.#tags.set(name, value);
    this.#estimatedBytes += cellBytes(name, value.length);
    this.#seriesKey = undefined;
    return this;
  }

  /** Sets a double field; same as `fieldDouble`. */
  field(name: string, value: number): this {
    return this.fieldDouble(name, value);
  }

  /** Sets a double (float64) field. */
  fieldDouble(name: string, value: number): this {
    return this.#setField(name, { float64Value: this.#number(name, value) }, 8);
  }

  /** Sets a float (float32) field; the value is rounded to single precision by the server. */
  fieldFloat(name: string, value: number): this {
    return this.#setField(name, { float32Value: this.#number(name, value) }, 4);
  }

  /** Sets an int64 field; the value must lie in [-2^63, 2^63 - 1]. */
  fieldInt64(name: string, value: Int64Input): this {
    const v = this.#integer(name, value, INT64_MIN, INT64_MAX, "int64");
    return this.#setField(name, { int64Value: v.toString() }, 8);
  }

  /** Sets an int32 field; the value must be an integer in [-2^31, 2^31 - 1]. */
  fieldInt32(name: string, value: number): this {
    if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
      throw this.#invalid(`field "${name}": ${String(value)} is not an int32`);
    }
    return this.#setField(name, { int32Value: value }, 4);
  }

  /** Sets a uint64 field; the value must lie in [0, 2^64 - 1]. */
  fieldUint64(name: string, value: Int64Input): this {
    const v = this.#integer(name, value, 0n, UINT64_MAX, "uint64");
    return this.#setField(name, { uint64Value: v.toString() }, 8);
  }

  /** Sets a boolean field. */
  fieldBool(name: string, value: boolean): this {
    if (typeof value !== "boolean") throw this.#invalid(`field "${name}" must be a boolean`);
    return this.#setField(name, { boolValue: value }, 1);
  }

  /** Sets a string field. */
  fieldString(name: string, value: string): this {
    if (typeof value !== "string") throw this.#invalid(`field "${name}" must be a string`);
    return this.#setField(name, { stringValue: value }, value.length);
  }

  /** Sets a varbinary field. The bytes are not copied: do not modify them until the point is sent. */
  fieldBytes(name: string, value: Uint8Array): this {
    if (!(value instanceof Uint8Array)) throw this.#invalid(`field "${name}" must be a Uint8Array`);
    return this.#setField(name, { varbinaryValue: value }, value.byteLength);
  }

  /** Sets the timestamp: milliseconds since the Unix epoch, or a Date. */
  timestamp(value: TimestampInput): this {
    const ms = value instanceof Date ? value.getTime() : typeof value === "bigint" ? Number(value) : value;
    if (
      typeof ms !== "number" ||
      !Number.isSafeInteger(ms) ||
      Math.abs(ms) > MAX_TIMESTAMP_MS ||
      (typeof value === "bigint" && BigInt(ms) !== value)
    ) {
      throw this.#invalid(`timestamp ${String(value)} is not a whole number of milliseconds within ±2^53`);
    }
    this.#timestampMs = ms;
    return this;
  }

  /** Milliseconds since the Unix epoch. */
  get timestampMs(): number {
    return this.#timestampMs;
  }

  /** The tags set so far. */
  get tags(): ReadonlyMap<string, string> {
    return this.#tags;
  }

  /** The fields set so far, each with its type. */
  get fields(): ReadonlyMap<string, FieldValue> {
    return this.#fields;
  }

  /**
   * An estimate of the point's encoded size in bytes (names, values and framing), used by the
   * batching thresholds and the memory bound of a writer.
   */
  get estimatedBytes(): number {
    return this.#estimatedBytes;
  }

  /**
   * A key shared by points of the same series whose tags were set in the same order, used to group
   * rows into series entries. Points of one series with tags set in another order get another key
   * and so their own entry, which the server handles the same; skipping a sort keeps this cheap.
   */
  get seriesKey(): string {
    if (this.#seriesKey === undefined) {
      let key = "";
      // Length prefixes keep the key unambiguous whatever characters names and values hold.
      for (const [name, value] of this.#tags) key += `${name.length}:${name}${value.length}:${value}`;
      this.#seriesKey = key;
    }
    return this.#seriesKey;
  }

  #setField(name: string, value: FieldValue, valueBytes: number): this {
    this.#checkName(name, "field");
    const previous = this.#fields.get(name);
    if (previous !== undefined) this.#estimatedBytes -= cellBytes(name, fieldValueBytes(previous));
    this.#fields.set(name, value);
    this.#estimatedBytes += cellBytes(name, valueBytes);
    return this;
  }

  #checkName(name: string, kind: "tag" | "field"): void {
    if (typeof name !== "string" || name.length === 0 || name.includes("\u0000")) {
      throw this.#invalid(`a ${kind} name must be a non-empty string without NUL`);
    }
    if (name === TIMESTAMP_COLUMN) {
      throw this.#invalid(`"${TIMESTAMP_COLUMN}" is reserved for the timestamp and cannot be a ${kind}`);
    }
    const other = kind === "tag" ? this.#fields : this.#tags;
    if (other.has(name)) {
      throw this.#invalid(`"${name}" is already a ${kind === "tag" ? "field" : "tag"} of this point`);
    }
  }

  #number(name: string, value: number): number {
    if (typeof value !== "number") throw this.#invalid(`field "${name}" must be a number`);
    return value;
  }

  #integer(name: string, value: Int64Input, min: bigint, max: bigint, type: string): bigint {
    let v: bigint;
    if (typeof value === "bigint") v = value;
    else if (typeof value === "number" && Number.isSafeInteger(value)) v = BigInt(value);
    else if (typeof value === "string" && /^-?\d+$/.test(value)) v = BigInt(value);
    else
      throw this.#invalid(
        `field "${name}": ${String(value)} is not an exact ${type} (use a bigint or a string)`,
      );
    if (v < min || v > max) throw this.#invalid(`field "${name}": ${v} is out of the ${type} range`);
    return v;
  }

  #invalid(message: string): HoraeDBArgumentError {
    return new HoraeDBArgumentError(`table ${this.table}: ${message}`);
  }
}

function cellBytes(name: string, valueBytes: number): number {
  return name.length + valueBytes + CELL_OVERHEAD_BYTES;
}

function fieldValueBytes(value: FieldValue): number {
  if ("stringValue" in value) return value.stringValue.length;
  if ("varbinaryValue" in value) return value.varbinaryValue.byteLength;
  if ("boolValue" in value) return 1;
  if ("float32Value" in value || "int32Value" in value) return 4;
  return 8;
}
