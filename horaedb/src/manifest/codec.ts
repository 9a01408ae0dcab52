import type { CellValue } from "../table/data-type.js";
import { isDataType } from "../table/data-type.js";
import type { TableSchemaJson } from "../table/schema.js";
import { CHECKSUM_FIELD, checkJsonTrailer, sealJson } from "./checksum.js";
import type { ManifestEdit, ManifestOp, SstFileEntry } from "./edit.js";
import { ManifestDataError } from "./errors.js";
import type { ManifestState } from "./state.js";

/**
 * JSON encoding of manifest objects: compact, readable by operators, validated field by field when
 * read back. Every object carries a format number so that a later layout can be told apart.
 *
 *   edit:     {"format":2,"kind":"edit","version":7,"ops":[{"type":"addSst","sst":{...}}, ...],
 *              "crc32c":"1a2b3c4d"}
 *   snapshot: {"format":2,"kind":"snapshot","version":20,"schema":{...},"options":{...},
 *              "flushedSequence":..,"nextFileId":..,"ssts":[...],"crc32c":"1a2b3c4d"}
 *
 * Checksum (format 2): the object's closing brace is replaced by the fixed 21-byte trailer
 * `,"crc32c":"hhhhhhhh"}`, where hhhhhhhh is the CRC32C (8 lowercase hex digits) of every byte
 * before the trailer, i.e. of the UTF-8 JSON text without its closing brace (see checksum.ts). A
 * reader verifies the checksum before parsing; a mismatch is corruption ("checksum mismatch"), so
 * is a format-2 object without a well-formed trailer.
 *
 * Format 1 is the same layout without the trailer, written by earlier builds; it is still read and
 * accepted unchecked, provided it has no `crc32c` field (a format-2 object whose trailer was damaged
 * must not pass for one). New objects are always written in format 2.
 *
 * Schema default values that JSON cannot carry are tagged: {"bigint":"123"}, {"base64":"..."},
 * {"double":"NaN"}.
 */
export const MANIFEST_FORMAT = 2;
/** The format of objects without a checksum, still readable. */
export const MANIFEST_FORMAT_UNCHECKED = 1;

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeEdit(version: number, edit: ManifestEdit): Uint8Array {
  const ops = edit.map((op, i) => stringify(encodeOp(op), `ops[${i}]`));
  const head = JSON.stringify({ format: MANIFEST_FORMAT, kind: "edit", version });
  return sealJson(`${head.slice(0, -1)},"ops":[${ops.join(",")}]}`);
}

/** Decodes an edit object; `expectedVersion` is the version its key names. */
export function decodeEdit(bytes: Uint8Array, expectedVersion: number): ManifestEdit {
  const root = parseChecked(bytes);
  checkHeader(root, "edit", expectedVersion);
  const ops = asArray(root.ops, "ops").map((op, i) => decodeOp(op, `ops[${i}]`));
  return deepFreeze(ops);
}

export function encodeSnapshot(state: ManifestState): Uint8Array {
  const ssts = [...state.ssts.values()].sort((a, b) => a.fileId - b.fileId);
  const json = stringify(
    {
      format: MANIFEST_FORMAT,
      kind: "snapshot",
      version: state.version,
      schema: encodeSchema(state.schema),
      options: state.options,
      flushedSequence: state.flushedSequence,
      nextFileId: state.nextFileId,
      ssts: ssts.map(encodeSst),
    },
    "$",
  );
  return sealJson(json);
}

/** Decodes a snapshot object; `expectedVersion` is the version its key names. */
export function decodeSnapshot(bytes: Uint8Array, expectedVersion: number): ManifestState {
  const root = parseChecked(bytes);
  checkHeader(root, "snapshot", expectedVersion);
  const ssts = new Map<number, SstFileEntry>();
  asArray(root.ssts, "ssts").forEach((raw, i) => {
    const sst = decodeSst(raw, `ssts[${i}]`);
    if (ssts.has(sst.fileId))
      throw new ManifestDataError(`ssts[${i}]`, `file id ${sst.fileId} appears twice`);
    ssts.set(sst.fileId, sst);
  });
  return deepFreeze({
    version: expectedVersion,
    schema: decodeSchema(root.schema, "schema"),
    options: decodeOptions(root.options, "options"),
    flushedSequence: asInt(root.flushedSequence, "flushedSequence"),
    nextFileId: asInt(root.nextFileId, "nextFileId", 0),
    ssts,
  });
}

function encodeOp(op: ManifestOp): unknown {
  switch (op.type) {
    case "addSst":
      return { type: op.type, sst: encodeSst(op.sst) };
    case "removeSst":
      return { type: op.type, fileId: op.fileId };
    case "setFlushedSequence":
      return { type: op.type, sequence: op.sequence };
    case "alterSchema":
      return { type: op.type, schema: encodeSchema(op.schema) };
    case "alterOptions":
      return { type: op.type, options: op.options };
    case "allocateFileIds":
      return { type: op.type, count: op.count };
    default:
      return op satisfies never;
  }
}

function decodeOp(raw: unknown, path: string): ManifestOp {
  const o = asObject(raw, path);
  const type = asString(o.type, `${path}.type`);
  switch (type) {
    case "addSst":
      return { type, sst: decodeSst(o.sst, `${path}.sst`) };
    case "removeSst":
      return { type, fileId: asInt(o.fileId, `${path}.fileId`, 0) };
    case "setFlushedSequence":
      return { type, sequence: asInt(o.sequence, `${path}.sequence`) };
    case "alterSchema":
      return { type, schema: decodeSchema(o.schema, `${path}.schema`) };
    case "alterOptions":
      return { type, options: decodeOptions(o.options, `${path}.options`) };
    case "allocateFileIds":
      return { type, count: asInt(o.count, `${path}.count`, 1) };
    default:
      throw new ManifestDataError(`${path}.type`, `unknown operation ${JSON.stringify(type)}`);
  }
}

function encodeSst(sst: SstFileEntry): unknown {
  return {
    fileId: sst.fileId,
    key: sst.key,
    size: sst.size,
    rowCount: sst.rowCount,
    timeRange: { min: sst.timeRange.min, max: sst.timeRange.max },
    maxSequence: sst.maxSequence,
    schemaVersion: sst.schemaVersion,
    meta: sst.meta ?? null,
  };
}

function decodeSst(raw: unknown, path: string): SstFileEntry {
  const o = asObject(raw, path);
  const range = asObject(o.timeRange, `${path}.timeRange`);
  const min = asInt(range.min, `${path}.timeRange.min`);
  const max = asInt(range.max, `${path}.timeRange.max`);
  if (min > max) throw new ManifestDataError(`${path}.timeRange`, `min ${min} is above max ${max}`);
  const key = asString(o.key, `${path}.key`);
  if (key.length === 0) throw new ManifestDataError(`${path}.key`, "is empty");
  if (!("meta" in o)) throw new ManifestDataError(`${path}.meta`, "is missing");
  return {
    fileId: asInt(o.fileId, `${path}.fileId`, 0),
    key,
    size: asInt(o.size, `${path}.size`, 0),
    rowCount: asInt(o.rowCount, `${path}.rowCount`, 0),
    timeRange: { min, max },
    maxSequence: asInt(o.maxSequence, `${path}.maxSequence`),
    schemaVersion: asInt(o.schemaVersion, `${path}.schemaVersion`, 1),
    meta: o.meta,
  };
}

function encodeSchema(schema: TableSchemaJson): unknown {
  return {
    version: schema.version,
    timestampColumn: schema.timestampColumn,
    primaryKey: schema.primaryKey,
    columns: schema.columns.map((c) => ({
      name: c.name,
      type: c.type,
      isTag: c.isTag,
      nullable: c.nullable,
      defaultValue: encodeCell(c.defaultValue),
      comment: c.comment,
    })),
  };
}

function decodeSchema(raw: unknown, path: string): TableSchemaJson {
  const o = asObject(raw, path);
  return {
    version: asInt(o.version, `${path}.version`, 1),
    timestampColumn: asString(o.timestampColumn, `${path}.timestampColumn`),
    primaryKey: asArray(o.primaryKey, `${path}.primaryKey`).map((k, i) =>
      asString(k, `${path}.primaryKey[${i}]`),
    ),
    columns: asArray(o.columns, `${path}.columns`).map((rawColumn, i) => {
      const at = `${path}.columns[${i}]`;
      const c = asObject(rawColumn, at);
      const type = asString(c.type, `${at}.type`);
      if (!isDataType(type))
        throw new ManifestDataError(`${at}.type`, `unknown data type ${JSON.stringify(type)}`);
      return {
        name: asString(c.name, `${at}.name`),
        type,
        isTag: asBoolean(c.isTag, `${at}.isTag`),
        nullable: asBoolean(c.nullable, `${at}.nullable`),
        defaultValue: decodeCell(c.defaultValue, `${at}.defaultValue`),
        comment: asString(c.comment, `${at}.comment`),
      };
    }),
  };
}

function encodeCell(value: CellValue): unknown {
  if (typeof value === "bigint") return { bigint: value.toString() };
  if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString("base64") };
  if (typeof value === "number" && !Number.isFinite(value)) return { double: String(value) };
  return value;
}

function decodeCell(raw: unknown, path: string): CellValue {
  if (raw === null || typeof raw === "boolean" || typeof raw === "string" || typeof raw === "number")
    return raw;
  const o = asObject(raw, path);
  if (typeof o.bigint === "string" && /^-?\d+$/.test(o.bigint)) return BigInt(o.bigint);
  if (typeof o.base64 === "string") return new Uint8Array(Buffer.from(o.base64, "base64"));
  if (o.double === "NaN" || o.double === "Infinity" || o.double === "-Infinity") return Number(o.double);
  throw new ManifestDataError(path, "expected a scalar or a tagged {bigint|base64|double} value");
}

function decodeOptions(raw: unknown, path: string): Record<string, string> {
  const o = asObject(raw, path);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(o)) out[name] = asString(value, `${path}.${name}`);
  return out;
}

function checkHeader(
  root: Record<string, unknown>,
  kind: "edit" | "snapshot",
  expectedVersion: number,
): void {
  if (root.format !== MANIFEST_FORMAT && root.format !== MANIFEST_FORMAT_UNCHECKED) {
    throw new ManifestDataError("format", `unsupported format ${JSON.stringify(root.format)}`);
  }
  if (root.kind !== kind)
    throw new ManifestDataError("kind", `expected "${kind}", got ${JSON.stringify(root.kind)}`);
  if (root.version !== expectedVersion) {
    throw new ManifestDataError(
      "version",
      `the key names version ${expectedVersion} but the object says ${JSON.stringify(root.version)}`,
    );
  }
}

function stringify(value: unknown, path: string): string {
  try {
    return JSON.stringify(value);
  } catch (e) {
    // BigInt values and cycles (most likely inside an SST's meta) cannot be written as JSON.
    throw new ManifestDataError(
      path,
      `not serialisable as JSON: ${e instanceof Error ? e.message : String(e)}`,
      {
        cause: e,
      },
    );
  }
}

/**
 * Verifies the checksum trailer, if any, then parses the object and checks that its format matches:
 * format 2 must carry a verified trailer, format 1 must carry no checksum at all.
 */
function parseChecked(bytes: Uint8Array): Record<string, unknown> {
  const trailer = checkJsonTrailer(bytes);
  if (trailer.status === "mismatch") throw new ManifestDataError("$", trailer.reason);
  const root = asObject(parseJson(bytes), "$");
  if (trailer.status === "verified") {
    if (root.format !== MANIFEST_FORMAT) {
      throw new ManifestDataError(
        "format",
        `format ${JSON.stringify(root.format)} object carries a checksum, only format ${MANIFEST_FORMAT} does`,
      );
    }
  } else if (root.format === MANIFEST_FORMAT) {
    throw new ManifestDataError(
      CHECKSUM_FIELD,
      `format ${MANIFEST_FORMAT} object has no well-formed checksum trailer (checksum missing or damaged)`,
    );
  } else if (CHECKSUM_FIELD in root) {
    throw new ManifestDataError(
      CHECKSUM_FIELD,
      `format ${JSON.stringify(root.format)} object has a ${CHECKSUM_FIELD} field but no well-formed checksum trailer`,
    );
  }
  return root;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8Decoder.decode(bytes));
  } catch (e) {
    throw new ManifestDataError("$", `not UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

function asObject(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new ManifestDataError(path, "expected an object");
  return v as Record<string, unknown>;
}

function asArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new ManifestDataError(path, "expected an array");
  return v;
}

function asString(v: unknown, path: string): string {
  if (typeof v !== "string") throw new ManifestDataError(path, "expected a string");
  return v;
}

function asBoolean(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") throw new ManifestDataError(path, "expected a boolean");
  return v;
}

function asInt(v: unknown, path: string, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v))
    throw new ManifestDataError(path, "expected a safe integer");
  if (v < min) throw new ManifestDataError(path, `expected at least ${min}, got ${v}`);
  return v;
}

/** Freezes decoded plain objects and arrays so that no holder of the state can change it in place. */
function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value) || ArrayBuffer.isView(value)) {
    return value;
  }
  if (value instanceof Map) {
    for (const v of value.values() as Iterable<unknown>) deepFreeze(v);
  } else {
    for (const v of Object.values(value) as unknown[]) deepFreeze(v);
  }
  return Object.freeze(value);
}
