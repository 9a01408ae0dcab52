/**
 * Results of the engine and of SQLite brought to one form and compared: integers (int32, int64,
 * timestamps) as bigint, doubles as numbers, booleans as booleans (SQLite's 0/1 read by the
 * engine's column type), text as strings.
 */
import type { ResultColumn } from "../../src/query/index.js";
import type { CellValue } from "../../src/table/data-type.js";
import type { ReferenceCell } from "./differential-reference.js";

export type Value = bigint | number | boolean | string | null;

/** Relative difference always allowed between approximate (tolerance > 0) doubles. */
const RELATIVE_EPSILON = 1e-9;

const INTEGER_TYPES = new Set(["int64", "int32", "uint64", "timestamp"]);
const FLOAT_TYPES = new Set(["double", "float"]);

export function normaliseOurs(value: CellValue, column: ResultColumn | undefined): Value {
  if (value === null) return null;
  if (value instanceof Uint8Array) return `x'${Buffer.from(value).toString("hex")}'`;
  const integer = column !== undefined && INTEGER_TYPES.has(column.type);
  if (integer && typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  return value;
}

/** A SQLite cell read as the type the engine gave the column; a value that does not fit stays as it is. */
export function normaliseReference(value: ReferenceCell, column: ResultColumn | undefined): Value {
  if (value === null) return null;
  if (value instanceof Uint8Array) return `x'${Buffer.from(value).toString("hex")}'`;
  const type = column?.type;
  if (type === undefined) return value;
  if (INTEGER_TYPES.has(type) && typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  if (FLOAT_TYPES.has(type) && typeof value === "bigint") return Number(value);
  if (type === "boolean" && (value === 0n || value === 1n)) return value === 1n;
  return value;
}

function sameValue(a: Value, b: Value, tolerance: number): boolean {
  if (typeof a === "number" && typeof b === "number") {
    if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return true; // 0 === -0: SQLite has no -0
    return (
      tolerance > 0 && Math.abs(a - b) <= tolerance + RELATIVE_EPSILON * Math.max(Math.abs(a), Math.abs(b))
    );
  }
  return a === b;
}

function sameRow(a: readonly Value[], b: readonly Value[], tolerances: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => sameValue(v, b[i] ?? null, tolerances[i] ?? 0));
}

export function formatValue(value: Value): string {
  if (value === null) return "NULL";
  if (typeof value === "string") return `'${value.replaceAll("'", "''")}'`;
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return Object.is(value, -0) ? "-0.0" : String(value);
  return String(value);
}

export function formatRow(row: readonly Value[] | undefined): string {
  return row === undefined ? "(no row)" : `(${row.map(formatValue).join(", ")})`;
}

/** A sort key of a row from its exact columns, so that two multisets line up row by row. */
function multisetKey(row: readonly Value[], tolerances: readonly number[]): string {
  return row
    .map((v, i) => {
      if ((tolerances[i] ?? 0) > 0) return "~";
      if (typeof v === "number") return `d:${v === 0 ? 0 : v}`;
      return `${typeof v}:${formatValue(v)}`;
    })
    .join("\u0001");
}

function sortedAsMultiset(rows: readonly Value[][], tolerances: readonly number[]): Value[][] {
  const keyed = rows.map((row) => ({ row, key: multisetKey(row, tolerances) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.row);
}

export interface Mismatch {
  /** What differs, with the first differing row of each side. */
  readonly description: string;
}

/**
 * Compares row by row when `ordered`, else as multisets (both sides sorted by their exact columns).
 * Undefined when the results agree.
 */
export function compareResults(
  ours: readonly Value[][],
  reference: readonly Value[][],
  ordered: boolean,
  tolerances: readonly number[],
): Mismatch | undefined {
  const a = ordered ? ours : sortedAsMultiset(ours, tolerances);
  const b = ordered ? reference : sortedAsMultiset(reference, tolerances);
  const rows = Math.max(a.length, b.length);
  for (let i = 0; i < rows; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined && y !== undefined && sameRow(x, y, tolerances)) continue;
    const how = ordered ? "in order" : "as multisets, both sorted";
    return {
      description:
        `${a.length} rows here, ${b.length} in SQLite (compared ${how}); first difference at row ${i}:\n` +
        `  here:   ${formatRow(x)}\n` +
        `  SQLite: ${formatRow(y)}`,
    };
  }
  return undefined;
}

/**
 * For LIMIT/OFFSET without ORDER BY: the engine returns as many rows as SQLite's full result
 * leaves after the offset (at most the limit), each a distinct one of SQLite's rows.
 */
export function compareSubset(
  ours: readonly Value[][],
  reference: readonly Value[][],
  clause: { readonly limit: number | undefined; readonly offset: number },
  tolerances: readonly number[],
): Mismatch | undefined {
  const remaining = Math.max(0, reference.length - clause.offset);
  const expected = clause.limit === undefined ? remaining : Math.min(clause.limit, remaining);
  if (ours.length !== expected) {
    return {
      description:
        `${ours.length} rows here, expected ${expected} (SQLite has ${reference.length} without LIMIT/OFFSET); ` +
        `first row here: ${formatRow(ours[0])}`,
    };
  }
  const unmatched = new Map<string, Value[][]>();
  for (const row of reference) {
    const key = multisetKey(row, tolerances);
    unmatched.set(key, [...(unmatched.get(key) ?? []), row]);
  }
  for (const [i, row] of ours.entries()) {
    const candidates = unmatched.get(multisetKey(row, tolerances)) ?? [];
    const match = candidates.findIndex((r) => sameRow(row, r, tolerances));
    if (match < 0) {
      return {
        description: `row ${i} here is not among SQLite's rows (or is there fewer times): ${formatRow(row)}`,
      };
    }
    candidates.splice(match, 1);
  }
  return undefined;
}
