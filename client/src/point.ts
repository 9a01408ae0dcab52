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
 * The member of the proto `Value` oneof a field is sent as, numbered as that member's field number
 * (storage.proto), so an encoder writes it without mapping.
 */
export const FieldKind = {
  Float64: 1,
  Float32: 2,
  Int64: 3,
  Int32: 4,
  UInt64: 5,
  Bool: 6,
  String: 7,
  Varbinary: 8,
} as const;
export type FieldKind = (typeof FieldKind)[keyof typeof FieldKind];

/** A field value as a point holds it: a bigint for int64 and uint64, else as in `FieldValue`. */
export type RawFieldValue = number | bigint | boolean | string | Uint8Array;

/**
 * A point's timestamp, tags and fields (parallel arrays, in the order each name was first set):
 * what the encoders read (see `pointLayout`).
 */
export interface PointLayout {
  readonly timestampMs: number;
  readonly tagNames: readonly string[];
  readonly tagValues: readonly string[];
  readonly fieldNames: readonly string[];
  readonly fieldKinds: readonly FieldKind[];
  readonly fieldValues: readonly RawFieldValue[];
}

/** Beyond this many names, a point indexes them in a map rather than searching its array. */
const LINEAR_SEARCH_MAX = 16;

let layoutOf: (point: Point) => PointLayout;

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
  // Parallel arrays rather than maps: a point holds a few names, and building one per row is the
  // application's hot loop, where a linear search beats hashing (and maps grow in several steps).
  readonly #tags = new Names();
  readonly #tagValues: string[] = [];
  readonly #fields = new Names();
  readonly #fieldKinds: FieldKind[] = [];
  readonly #fieldValues: RawFieldValue[] = [];
  #timestampMs: number;
  #estimatedBytes: number;
  #seriesKey: string | undefined;
  #tagsView: Map<string, string> | undefined;
  #fieldsView: Map<string, FieldValue> | undefined;

  static {
    layoutOf = (point) => ({
      timestampMs: point.#timestampMs,
      tagNames: point.#tags.names,
      tagValues: point.#tagValues,
      fieldNames: point.#fields.names,
      fieldKinds: point.#fieldKinds,
      fieldValues: point.#fieldValues,
    });
  }

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
    const i = this.#tags.indexOf(name);
    if (i >= 0) {
      this.#estimatedBytes -= cellBytes(name, (this.#tagValues[i] as string).length);
      this.#tagValues[i] = value;
    } else {
      this.#tags.add(name);
      this.#tagValues.push(value);
    }
    this.#estimatedBytes += cellBytes(name, value.length);
    this.#seriesKey = undefined;
    this.#tagsView = undefined;
    return this;
  }

  /** Sets a double field; same as `fieldDouble`. */
  field(name: string, value: number): this {
    return this.fieldDouble(name, value);
  }

  /** Sets a double (float64) field. */
  fieldDouble(name: string, value: number): this {
    return this.#setField(name, FieldKind.Float64, this.#number(name, value), 8);
  }

  /** Sets a float (float32) field; the value is rounded to single precision by the server. */
  fieldFloat(name: string, value: number): this {
    return this.#setField(name, FieldKind.Float32, this.#number(name, value), 4);
  }

  /** Sets an int64 field; the value must lie in [-2^63, 2^63 - 1]. */
  fieldInt64(name: string, value: Int64Input): this {
    const v = this.#integer(name, value, INT64_MIN, INT64_MAX, "int64");
    return this.#setField(name, FieldKind.Int64, v, 8);
  }

  /** Sets an int32 field; the value must be an integer in [-2^31, 2^31 - 1]. */
  fieldInt32(name: string, value: number): this {
    if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
      throw this.#invalid(`field "${name}": ${String(value)} is not an int32`);
    }
    return this.#setField(name, FieldKind.Int32, value, 4);
  }

  /** Sets a uint64 field; the value must lie in [0, 2^64 - 1]. */
  fieldUint64(name: string, value: Int64Input): this {
    const v = this.#integer(name, value, 0n, UINT64_MAX, "uint64");
    return this.#setField(name, FieldKind.UInt64, v, 8);
  }

  /** Sets a boolean field. */
  fieldBool(name: string, value: boolean): this {
    if (typeof value !== "boolean") throw this.#invalid(`field "${name}" must be a boolean`);
    return this.#setField(name, FieldKind.Bool, value, 1);
  }

  /** Sets a string field. */
  fieldString(name: string, value: string): this {
    if (typeof value !== "string") throw this.#invalid(`field "${name}" must be a string`);
    return this.#setField(name, FieldKind.String, value, value.length);
  }

  /** Sets a varbinary field. The bytes are not copied: do not modify them until the point is sent. */
  fieldBytes(name: string, value: Uint8Array): this {
    if (!(value instanceof Uint8Array)) throw this.#invalid(`field "${name}" must be a Uint8Array`);
    return this.#setField(name, FieldKind.Varbinary, value, value.byteLength);
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

  /** The tags set so far, in the order first set. */
  get tags(): ReadonlyMap<string, string> {
    if (this.#tagsView === undefined) {
      const names = this.#tags.names;
      this.#tagsView = new Map(names.map((name, i) => [name, this.#tagValues[i] as string]));
    }
    return this.#tagsView;
  }

  /** The fields set so far, each with its type, in the order first set. */
  get fields(): ReadonlyMap<string, FieldValue> {
    if (this.#fieldsView === undefined) {
      const names = this.#fields.names;
      this.#fieldsView = new Map(
        names.map((name, i) => [
          name,
          fieldValueOf(this.#fieldKinds[i] as FieldKind, this.#fieldValues[i] as RawFieldValue),
        ]),
      );
    }
    return this.#fieldsView;
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
      // `name NUL value NUL` per tag. Names hold no NUL; a NUL in a value is doubled, and a
      // separator is never followed by NUL (a name follows, or nothing), so keys are unambiguous.
      const names = this.#tags.names;
      let key = "";
      for (let i = 0; i < names.length; i++) {
        const value = this.#tagValues[i] as string;
        key +=
          (names[i] as string) +
          "\u0000" +
          (value.includes("\u0000") ? value.replaceAll("\u0000", "\u0000\u0000") : value) +
          "\u0000";
      }
      this.#seriesKey = key;
    }
    return this.#seriesKey;
  }

  #setField(name: string, kind: FieldKind, value: RawFieldValue, valueBytes: number): this {
    this.#checkName(name, "field");
    const i = this.#fields.indexOf(name);
    if (i >= 0) {
      const previous = fieldValueBytes(
        this.#fieldKinds[i] as FieldKind,
        this.#fieldValues[i] as RawFieldValue,
      );
      this.#estimatedBytes -= cellBytes(name, previous);
      this.#fieldKinds[i] = kind;
      this.#fieldValues[i] = value;
    } else {
      this.#fields.add(name);
      this.#fieldKinds.push(kind);
      this.#fieldValues.push(value);
    }
    this.#estimatedBytes += cellBytes(name, valueBytes);
    this.#fieldsView = undefined;
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
    if (other.indexOf(name) >= 0) {
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

/** The point's timestamp, tags and fields (the arrays are not copies: do not modify them). */
export function pointLayout(point: Point): PointLayout {
  return layoutOf(point);
}

/** Names in the order added, searched linearly while few, through a map beyond that. */
class Names {
  readonly names: string[] = [];
  #index: Map<string, number> | undefined;

  indexOf(name: string): number {
    if (this.#index !== undefined) return this.#index.get(name) ?? -1;
    return this.names.length === 0 ? -1 : this.names.indexOf(name);
  }

  add(name: string): void {
    this.names.push(name);
    if (this.#index !== undefined) this.#index.set(name, this.names.length - 1);
    else if (this.names.length > LINEAR_SEARCH_MAX) {
      this.#index = new Map(this.names.map((n, i) => [n, i]));
    }
  }
}

/** The `FieldValue` (proto `Value` shape) of a value a point holds. */
function fieldValueOf(kind: FieldKind, value: RawFieldValue): FieldValue {
  switch (kind) {
    case FieldKind.Float64:
      return { float64Value: value as number };
    case FieldKind.Float32:
      return { float32Value: value as number };
    case FieldKind.Int64:
      return { int64Value: (value as bigint).toString() };
    case FieldKind.Int32:
      return { int32Value: value as number };
    case FieldKind.UInt64:
      return { uint64Value: (value as bigint).toString() };
    case FieldKind.Bool:
      return { boolValue: value as boolean };
    case FieldKind.String:
      return { stringValue: value as string };
    case FieldKind.Varbinary:
      return { varbinaryValue: value as Uint8Array };
  }
}

function cellBytes(name: string, valueBytes: number): number {
  return name.length + valueBytes + CELL_OVERHEAD_BYTES;
}

function fieldValueBytes(kind: FieldKind, value: RawFieldValue): number {
  switch (kind) {
    case FieldKind.String:
      return (value as string).length;
    case FieldKind.Varbinary:
      return (value as Uint8Array).byteLength;
    case FieldKind.Bool:
      return 1;
    case FieldKind.Float32:
    case FieldKind.Int32:
      return 4;
    default:
      return 8;
  }
}
