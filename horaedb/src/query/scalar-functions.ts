/**
 * The scalar functions a query may call, by name (case-insensitive). Each checks its argument
 * types when the statement is planned (saying what it expected) and computes a whole column at
 * once. `now()` is not here: the planner replaces it with the query's start time.
 */
import { allocateValues, type Column } from "../batch/column.js";
import { DataType } from "../table/data-type.js";
import type { BoundExpr } from "./bound-expr.js";
import { commonTypeOf } from "./coercion.js";
import { QueryExecutionError, QueryExecutionErrorCode } from "./errors.js";
import {
  dateTrunc,
  isDateTruncUnit,
  parseBucketPeriod,
  timeBucket,
  DATE_TRUNC_UNITS,
} from "./time-functions.js";
import { INT64_MIN, isInteger, isNumeric, type ExprType } from "./types.js";
import type { IndexedValues } from "./vectors.js";

/** Why the arguments do not fit, and which argument is at fault (the call when undefined). */
export interface SignatureMismatch {
  readonly message: string;
  readonly argument?: number;
}

/** What a function takes and returns for the given arguments. */
export interface Signature {
  /** The type each argument is cast to before the call. */
  readonly argTypes: readonly DataType[];
  readonly returns: DataType;
}

export interface ScalarFunction {
  readonly name: string;
  /**
   * Positions of constant arguments the function reads from their bound expression (a bucket
   * width, a unit), which are therefore not evaluated into columns for every batch.
   */
  readonly constantArguments?: readonly number[];
  /** The signature for these arguments, or why they do not fit. */
  signature(args: readonly BoundExpr[]): Signature | SignatureMismatch;
  /**
   * The result for `n` rows; `args` are the evaluated arguments (empty columns at the constant
   * positions), `exprs` the bound ones.
   */
  evaluate(args: readonly Column[], n: number, exprs: readonly BoundExpr[]): Column;
}

function arity(
  name: string,
  args: readonly BoundExpr[],
  min: number,
  max = min,
): SignatureMismatch | undefined {
  if (args.length >= min && args.length <= max) return undefined;
  const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
  return {
    message: `function ${name} takes ${expected} argument${min === 1 && max === 1 ? "" : "s"}, got ${args.length}`,
  };
}

/** The text of a constant string argument, or undefined when it is not one. */
export function constantText(expr: BoundExpr | undefined): string | undefined {
  return expr?.kind === "literal" && typeof expr.value === "string" ? expr.value : undefined;
}

const isTimestampLike = (t: ExprType) => t === DataType.Timestamp || t === "null";

const timeBucketFunction: ScalarFunction = {
  name: "time_bucket",
  constantArguments: [1],
  signature(args) {
    const bad = arity("time_bucket", args, 2);
    if (bad !== undefined) return bad;
    const [ts, period] = args as [BoundExpr, BoundExpr];
    if (!isTimestampLike(ts.type)) {
      return { message: `time_bucket() takes a timestamp first, not ${ts.type}`, argument: 0 };
    }
    const text = constantText(period);
    if (text === undefined) {
      return { message: "time_bucket() takes a constant period such as 'PT1M' second", argument: 1 };
    }
    const ms = parseBucketPeriod(text);
    if (typeof ms === "string") return { message: `time_bucket(): ${ms}`, argument: 1 };
    return { argTypes: [DataType.Timestamp, DataType.String], returns: DataType.Timestamp };
  },
  evaluate(args, n, exprs) {
    return timeBucket(args[0] as Column, parseBucketPeriod(constantText(exprs[1]) ?? "") as number, n);
  },
};

const dateTruncFunction: ScalarFunction = {
  name: "date_trunc",
  constantArguments: [0],
  signature(args) {
    const bad = arity("date_trunc", args, 2);
    if (bad !== undefined) return bad;
    const [unit, ts] = args as [BoundExpr, BoundExpr];
    const text = constantText(unit)?.toLowerCase();
    if (text === undefined || !isDateTruncUnit(text)) {
      return {
        message: `date_trunc() takes a unit first, one of '${DATE_TRUNC_UNITS.join("', '")}'`,
        argument: 0,
      };
    }
    if (!isTimestampLike(ts.type)) {
      return { message: `date_trunc() takes a timestamp second, not ${ts.type}`, argument: 1 };
    }
    return { argTypes: [DataType.String, DataType.Timestamp], returns: DataType.Timestamp };
  },
  evaluate(args, n, exprs) {
    const unit = (constantText(exprs[0]) ?? "").toLowerCase();
    return dateTrunc(args[1] as Column, unit as (typeof DATE_TRUNC_UNITS)[number], n);
  },
};

/** A function of one numeric argument computed on doubles. */
function doubleFunction(name: string, fn: (x: number) => number): ScalarFunction {
  return {
    name,
    signature(args) {
      const bad = arity(name, args, 1);
      if (bad !== undefined) return bad;
      const t = (args[0] as BoundExpr).type;
      if (!isNumeric(t) && t !== "null")
        return { message: `${name}() takes a number, not ${t}`, argument: 0 };
      return { argTypes: [DataType.Double], returns: DataType.Double };
    },
    evaluate(args, n) {
      return mapNumbers(args[0] as Column, DataType.Double, n, fn);
    },
  };
}

function mapNumbers(column: Column, type: DataType, n: number, fn: (x: number) => number): Column {
  const a = column.values as Float64Array;
  const out = allocateValues(type, n) as Float64Array;
  for (let i = 0; i < n; i++) out[i] = fn(a[i] as number);
  return { type, values: out, validity: column.validity };
}

/** abs, ceil, floor, round: integers keep their type (and value, but for abs), floats become double. */
function roundingFunction(name: string, fn: (x: number) => number): ScalarFunction {
  return {
    name,
    signature(args) {
      const bad = arity(name, args, 1);
      if (bad !== undefined) return bad;
      const t = (args[0] as BoundExpr).type;
      if (t === "null") return { argTypes: [DataType.Double], returns: DataType.Double };
      if (!isNumeric(t)) return { message: `${name}() takes a number, not ${t}`, argument: 0 };
      const type = isInteger(t) ? (t as DataType) : DataType.Double;
      return { argTypes: [type], returns: type };
    },
    evaluate(args, n) {
      const column = args[0] as Column;
      if (column.type === DataType.Double) return mapNumbers(column, DataType.Double, n, fn);
      if (name !== "abs") return column;
      return absInteger(column, n);
    },
  };
}

function absInteger(column: Column, n: number): Column {
  const { type, validity } = column;
  if (type === DataType.UInt64) return column;
  if (type === DataType.Int32) return mapNumbers(column, DataType.Int32, n, Math.abs);
  const a = column.values as BigInt64Array;
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const v = a[i] as bigint;
    if (v === INT64_MIN && (validity === null || validity[i] === 1)) {
      throw new QueryExecutionError(QueryExecutionErrorCode.NumericOverflow, "int64 result out of range");
    }
    out[i] = v < 0n ? -v : v;
  }
  return { type, values: out, validity };
}

const powerFunction: ScalarFunction = {
  name: "power",
  signature(args) {
    const bad = arity("power", args, 2);
    if (bad !== undefined) return bad;
    for (const [i, a] of args.entries()) {
      if (!isNumeric(a.type) && a.type !== "null")
        return { message: `power() takes numbers, not ${a.type}`, argument: i };
    }
    return { argTypes: [DataType.Double, DataType.Double], returns: DataType.Double };
  },
  evaluate(args, n) {
    const [base, exponent] = args as [Column, Column];
    const a = base.values as Float64Array;
    const b = exponent.values as Float64Array;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.pow(a[i] as number, b[i] as number);
    return { type: DataType.Double, values: out, validity: combineValidity(args, n) };
  },
};

/** A function of one string argument. */
function stringFunction(name: string, returns: DataType, fn: (s: string) => string | number): ScalarFunction {
  return {
    name,
    signature(args) {
      const bad = arity(name, args, 1);
      if (bad !== undefined) return bad;
      const t = (args[0] as BoundExpr).type;
      if (t !== DataType.String && t !== "null")
        return { message: `${name}() takes a string, not ${t}`, argument: 0 };
      return { argTypes: [DataType.String], returns };
    },
    evaluate(args, n) {
      const column = args[0] as Column;
      const a = column.values as string[];
      const out = allocateValues(returns, n) as IndexedValues;
      const { validity } = column;
      for (let i = 0; i < n; i++) if (validity === null || validity[i] === 1) out[i] = fn(a[i] as string);
      return { type: returns, values: out as Column["values"], validity };
    },
  };
}

const coalesceFunction: ScalarFunction = {
  name: "coalesce",
  signature(args) {
    const bad = arity("coalesce", args, 1, Infinity);
    if (bad !== undefined) return bad;
    const type = commonTypeOf(args.map((a) => a.type));
    if (type === undefined) {
      return { message: `coalesce() arguments have no common type: ${args.map((a) => a.type).join(", ")}` };
    }
    return { argTypes: args.map(() => type), returns: type };
  },
  evaluate(args, n) {
    const first = args[0] as Column;
    const out = allocateValues(first.type, n) as IndexedValues;
    const validity = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      for (const column of args) {
        if (column.validity === null || column.validity[i] === 1) {
          out[i] = (column.values as IndexedValues)[i];
          validity[i] = 1;
          break;
        }
      }
    }
    return { type: first.type, values: out as Column["values"], validity };
  },
};

const concatFunction: ScalarFunction = {
  name: "concat",
  signature(args) {
    const bad = arity("concat", args, 1, Infinity);
    if (bad !== undefined) return bad;
    for (const [i, a] of args.entries()) {
      if (a.type === "interval" || a.type === DataType.Varbinary) {
        return { message: `concat() cannot take ${a.type}`, argument: i };
      }
    }
    return { argTypes: args.map(() => DataType.String), returns: DataType.String };
  },
  evaluate(args, n) {
    // NULL arguments are skipped, as in PostgreSQL.
    const out = new Array<string>(n).fill("");
    for (const column of args) {
      const values = column.values as string[];
      for (let i = 0; i < n; i++) {
        if (column.validity === null || column.validity[i] === 1) out[i] += values[i] as string;
      }
    }
    return { type: DataType.String, values: out, validity: null };
  },
};

function combineValidity(columns: readonly Column[], n: number): Uint8Array | null {
  let validity: Uint8Array | null = null;
  for (const c of columns) {
    if (c.validity === null) continue;
    if (validity === null) validity = c.validity.slice(0, n);
    else for (let i = 0; i < n; i++) validity[i] = (validity[i] as number) & (c.validity[i] as number);
  }
  return validity;
}

function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

const FUNCTIONS: ReadonlyMap<string, ScalarFunction> = new Map(
  [
    timeBucketFunction,
    dateTruncFunction,
    roundingFunction("abs", Math.abs),
    roundingFunction("ceil", Math.ceil),
    roundingFunction("floor", Math.floor),
    roundingFunction("round", roundHalfAwayFromZero),
    doubleFunction("sqrt", Math.sqrt),
    doubleFunction("ln", Math.log),
    doubleFunction("log10", Math.log10),
    doubleFunction("exp", Math.exp),
    powerFunction,
    stringFunction("lower", DataType.String, (s) => s.toLowerCase()),
    stringFunction("upper", DataType.String, (s) => s.toUpperCase()),
    stringFunction("length", DataType.Int32, (s) => [...s].length),
    stringFunction("char_length", DataType.Int32, (s) => [...s].length),
    coalesceFunction,
    concatFunction,
  ].map((f) => [f.name, f]),
);

/** The scalar function of that name (case-insensitive), if there is one. */
export function scalarFunction(name: string): ScalarFunction | undefined {
  return FUNCTIONS.get(name.toLowerCase());
}
