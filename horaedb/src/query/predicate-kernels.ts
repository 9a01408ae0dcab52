/**
 * Boolean kernels with SQL's three-valued logic: AND, OR, NOT, IS [NOT] NULL/TRUE/FALSE,
 * IN over a set of constants, and LIKE.
 */
import type { Column } from "../batch/column.js";
import { DataType } from "../table/data-type.js";
import { booleanColumn } from "./vectors.js";
import type { IndexedValues } from "./vectors.js";

/** FALSE if either side is FALSE, else NULL if either is NULL, else TRUE. */
export function andColumns(left: Column, right: Column, n: number): Column {
  const a = left.values as Uint8Array;
  const b = right.values as Uint8Array;
  const av = left.validity;
  const bv = right.validity;
  const out = new Uint8Array(n);
  if (av === null && bv === null) {
    for (let i = 0; i < n; i++) out[i] = (a[i] as number) & (b[i] as number);
    return booleanColumn(out, null);
  }
  const validity = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const aValid = av === null || av[i] === 1;
    const bValid = bv === null || bv[i] === 1;
    const aFalse = aValid && a[i] === 0;
    const bFalse = bValid && b[i] === 0;
    if (aFalse || bFalse) {
      validity[i] = 1;
    } else if (aValid && bValid) {
      validity[i] = 1;
      out[i] = 1;
    }
  }
  return booleanColumn(out, validity);
}

/** TRUE if either side is TRUE, else NULL if either is NULL, else FALSE. */
export function orColumns(left: Column, right: Column, n: number): Column {
  const a = left.values as Uint8Array;
  const b = right.values as Uint8Array;
  const av = left.validity;
  const bv = right.validity;
  const out = new Uint8Array(n);
  if (av === null && bv === null) {
    for (let i = 0; i < n; i++) out[i] = (a[i] as number) | (b[i] as number);
    return booleanColumn(out, null);
  }
  const validity = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const aValid = av === null || av[i] === 1;
    const bValid = bv === null || bv[i] === 1;
    if ((aValid && a[i] === 1) || (bValid && b[i] === 1)) {
      validity[i] = 1;
      out[i] = 1;
    } else if (aValid && bValid) {
      validity[i] = 1;
    }
  }
  return booleanColumn(out, validity);
}

export function notColumn(column: Column, n: number): Column {
  const a = column.values as Uint8Array;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (a[i] as number) ^ 1;
  return booleanColumn(out, column.validity);
}

/** `x IS NULL` (or IS NOT NULL when negated): never NULL itself. */
export function isNullColumn(column: Column, negated: boolean, n: number): Column {
  const out = new Uint8Array(n);
  const { validity } = column;
  const hit = negated ? 0 : 1;
  if (validity === null) out.fill(1 - hit);
  else for (let i = 0; i < n; i++) out[i] = validity[i] === 1 ? 1 - hit : hit;
  return booleanColumn(out, null);
}

/** `x IS [NOT] TRUE|FALSE`: NULL counts as neither. */
export function isBooleanColumn(column: Column, value: boolean, negated: boolean, n: number): Column {
  const a = column.values as Uint8Array;
  const { validity } = column;
  const want = value ? 1 : 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const is = (validity === null || validity[i] === 1) && a[i] === want;
    out[i] = is !== negated ? 1 : 0;
  }
  return booleanColumn(out, null);
}

/**
 * `x IN (constants)`: TRUE when x is in the set; otherwise NULL when x is NULL or the list has a
 * NULL, else FALSE. NOT IN negates the non-NULL outcomes. `members` holds values as columns of
 * x's type hold them (varbinary as hex text).
 */
export function inSetColumn(
  column: Column,
  members: ReadonlySet<unknown>,
  listHasNull: boolean,
  negated: boolean,
  n: number,
): Column {
  const values = column.values as IndexedValues;
  const { validity } = column;
  const binary = column.type === DataType.Varbinary;
  const out = new Uint8Array(n);
  const outValidity = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (validity !== null && validity[i] === 0) continue;
    const v = values[i];
    const found = members.has(binary ? Buffer.from(v as Uint8Array).toString("hex") : v);
    if (found) {
      outValidity[i] = 1;
      out[i] = negated ? 0 : 1;
    } else if (!listHasNull) {
      outValidity[i] = 1;
      out[i] = negated ? 1 : 0;
    }
  }
  return booleanColumn(out, outValidity);
}

/**
 * The regular expression of a LIKE pattern: `%` any run of characters, `_` one character, `\`
 * makes the next character literal (PostgreSQL's default escape).
 */
export function likePattern(pattern: string, caseInsensitive: boolean): RegExp {
  let source = "^";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === "\\" && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[++i] as string);
    } else if (ch === "%") {
      source += "[\\s\\S]*";
    } else if (ch === "_") {
      source += "[\\s\\S]";
    } else {
      source += escapeRegExp(ch);
    }
  }
  return new RegExp(`${source}$`, caseInsensitive ? "iu" : "u");
}

function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

/** `x [NOT] LIKE pattern` with one pattern for every row. */
export function likeColumn(column: Column, regex: RegExp, negated: boolean, n: number): Column {
  const values = column.values as string[];
  const out = new Uint8Array(n);
  const { validity } = column;
  for (let i = 0; i < n; i++) {
    if (validity !== null && validity[i] === 0) continue;
    out[i] = regex.test(values[i] as string) !== negated ? 1 : 0;
  }
  return booleanColumn(out, validity);
}
