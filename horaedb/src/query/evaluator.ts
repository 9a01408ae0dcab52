/**
 * Evaluates bound expressions over a batch, a whole column at a time: each node's result is a new
 * column (typed values plus validity) computed by a kernel loop over its operands' columns.
 */
import { allocateValues, type Column } from "../batch/column.js";
import { takeRows, type ColumnBatch } from "../batch/column-batch.js";
import { DataType } from "../table/data-type.js";
import {
  negateColumn,
  arithmeticColumns,
  shiftTimestamps,
  subtractTimestamps,
} from "./arithmetic-kernels.js";
import type { BoundExpr, CaseExpr, InListExpr, LikeExpr } from "./bound-expr.js";
import { castColumn } from "./cast.js";
import { compareColumns, compareWithConstant, flipComparison } from "./compare-kernels.js";
import {
  andColumns,
  inSetColumn,
  isBooleanColumn,
  isNullColumn,
  likeColumn,
  likePattern,
  notColumn,
  orColumns,
} from "./predicate-kernels.js";
import type { Interval } from "./types.js";
import { booleanColumn, broadcast, trueRows, type IndexedValues } from "./vectors.js";

/** The value of `expr` for every row of `batch`. */
export function evaluate(expr: BoundExpr, batch: ColumnBatch): Column {
  const n = batch.numRows;
  switch (expr.kind) {
    case "column": {
      const column = batch.columns[expr.index];
      if (column === undefined)
        throw new RangeError(`column ${expr.index} (${expr.name}) is not in the batch`);
      return column;
    }
    case "literal":
      if (expr.type === "interval") throw new TypeError("an interval cannot be evaluated on its own");
      // An untyped NULL that never met a typed operand reads as a NULL string, as in PostgreSQL.
      return broadcast(expr.type === "null" ? DataType.String : expr.type, expr.value, n);
    case "negate":
      return negateColumn(evaluate(expr.operand, batch), n);
    case "not":
      return notColumn(evaluate(expr.operand, batch), n);
    case "arithmetic": {
      const { left, right } = expr;
      if (right.kind === "literal" && right.type === "interval") {
        if (right.value === null) return broadcast(DataType.Timestamp, null, n);
        return shiftTimestamps(evaluate(left, batch), right.value as Interval, expr.op === "-" ? -1 : 1, n);
      }
      const a = evaluate(left, batch);
      const b = evaluate(right, batch);
      if (a.type === DataType.Timestamp && b.type === DataType.Timestamp) return subtractTimestamps(a, b, n);
      return arithmeticColumns(expr.op, a, b, expr.type as DataType, n);
    }
    case "compare": {
      const { left, right, op } = expr;
      if (right.kind === "literal") return compareWithConstant(op, evaluate(left, batch), right.value, n);
      if (left.kind === "literal")
        return compareWithConstant(flipComparison(op), evaluate(right, batch), left.value, n);
      return compareColumns(op, evaluate(left, batch), evaluate(right, batch), n);
    }
    case "logical": {
      const a = evaluate(expr.left, batch);
      const b = evaluate(expr.right, batch);
      return expr.op === "AND" ? andColumns(a, b, n) : orColumns(a, b, n);
    }
    case "isNull":
      return isNullColumn(evaluate(expr.operand, batch), expr.negated, n);
    case "isBoolean":
      return isBooleanColumn(evaluate(expr.operand, batch), expr.value, expr.negated, n);
    case "inList":
      return evaluateInList(expr, batch);
    case "like":
      return evaluateLike(expr, batch);
    case "cast":
      return castColumn(evaluate(expr.operand, batch), expr.type, n);
    case "case":
      return evaluateCase(expr, batch);
    case "call": {
      const constant = expr.fn.constantArguments ?? [];
      const args = expr.args.map((a, i) =>
        constant.includes(i) ? broadcast(a.type as DataType, null, 0) : evaluate(a, batch),
      );
      return expr.fn.evaluate(args, n, expr.args);
    }
    case "aggregate":
      throw new TypeError(`aggregate ${expr.fn}() outside an aggregation`);
  }
}

interface ConstantSet {
  readonly members: ReadonlySet<unknown>;
  readonly hasNull: boolean;
}

const constantSets = new WeakMap<InListExpr, ConstantSet>();

function evaluateInList(expr: InListExpr, batch: ColumnBatch): Column {
  const n = batch.numRows;
  const operand = evaluate(expr.operand, batch);
  if (expr.list.every((e) => e.kind === "literal")) {
    let set = constantSets.get(expr);
    if (set === undefined) {
      const members = new Set<unknown>();
      let hasNull = false;
      for (const item of expr.list) {
        const value = item.kind === "literal" ? item.value : null;
        if (value === null) hasNull = true;
        else if (value instanceof Uint8Array) members.add(Buffer.from(value).toString("hex"));
        else members.add(typeof value === "boolean" ? (value ? 1 : 0) : value);
      }
      set = { members, hasNull };
      constantSets.set(expr, set);
    }
    return inSetColumn(operand, set.members, set.hasNull, expr.negated, n);
  }
  // Items that vary by row: x = a OR x = b OR ..., which has the same NULL behaviour.
  let result: Column | undefined;
  for (const item of expr.list) {
    const equal = compareColumns("=", operand, evaluate(item, batch), n);
    result = result === undefined ? equal : orColumns(result, equal, n);
  }
  if (result === undefined) return broadcast(DataType.Boolean, expr.negated, n);
  return expr.negated ? notColumn(result, n) : result;
}

const likeRegexes = new WeakMap<LikeExpr, RegExp>();

function evaluateLike(expr: LikeExpr, batch: ColumnBatch): Column {
  const n = batch.numRows;
  const operand = evaluate(expr.operand, batch);
  const { pattern } = expr;
  if (pattern.kind === "literal") {
    if (pattern.value === null) return broadcast(DataType.Boolean, null, n);
    let regex = likeRegexes.get(expr);
    if (regex === undefined) {
      regex = likePattern(pattern.value as string, expr.caseInsensitive);
      likeRegexes.set(expr, regex);
    }
    return likeColumn(operand, regex, expr.negated, n);
  }
  const patterns = evaluate(pattern, batch);
  const values = operand.values as string[];
  const texts = patterns.values as string[];
  const cache = new Map<string, RegExp>();
  const out = new Uint8Array(n);
  const validity = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const valid =
      (operand.validity === null || operand.validity[i] === 1) &&
      (patterns.validity === null || patterns.validity[i] === 1);
    if (!valid) continue;
    const text = texts[i] as string;
    let regex = cache.get(text);
    if (regex === undefined) {
      regex = likePattern(text, expr.caseInsensitive);
      cache.set(text, regex);
    }
    validity[i] = 1;
    out[i] = regex.test(values[i] as string) !== expr.negated ? 1 : 0;
  }
  return booleanColumn(out, validity);
}

/**
 * CASE: each branch's condition is evaluated only on the rows no earlier branch took, and its
 * value only on the rows it takes, so `CASE WHEN x = 0 THEN 0 ELSE 1 / x END` never divides by 0.
 */
function evaluateCase(expr: CaseExpr, batch: ColumnBatch): Column {
  const n = batch.numRows;
  const out = allocateValues(expr.type, n);
  const validity = new Uint8Array(n);
  // Rows of `batch` not taken yet, as indices into `batch`; `current` holds exactly those rows.
  let remaining: Uint32Array | undefined;
  let current = batch;
  const scatter = (rowsOfCurrent: Uint32Array | undefined, valueExpr: BoundExpr, rows: ColumnBatch) => {
    const values = evaluate(valueExpr, rows);
    const src = values.values as IndexedValues;
    const dst = out as IndexedValues;
    for (let k = 0; k < rows.numRows; k++) {
      const inCurrent = rowsOfCurrent === undefined ? k : (rowsOfCurrent[k] as number);
      const row = remaining === undefined ? inCurrent : (remaining[inCurrent] as number);
      if (values.validity !== null && values.validity[k] === 0) continue;
      dst[row] = src[k];
      validity[row] = 1;
    }
  };
  for (const branch of expr.branches) {
    if (current.numRows === 0) break;
    const condition = evaluate(branch.when, current);
    const taken = trueRows(condition, current.numRows);
    if (taken.length === 0) continue;
    scatter(taken, branch.then, taken.length === current.numRows ? current : takeRows(current, taken));
    const rest = new Uint32Array(current.numRows - taken.length);
    let t = 0;
    let r = 0;
    for (let i = 0; i < current.numRows; i++) {
      if (t < taken.length && taken[t] === i) t++;
      else rest[r++] = i;
    }
    remaining = remaining === undefined ? rest : rest.map((i) => (remaining as Uint32Array)[i] as number);
    current = takeRows(current, rest);
  }
  if (expr.else !== undefined && current.numRows > 0) scatter(undefined, expr.else, current);
  const allValid = validity.every((v) => v === 1);
  return { type: expr.type, values: out, validity: allValid ? null : validity };
}
