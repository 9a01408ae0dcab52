import { describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import type { BoundExpr } from "../../src/query/bound-expr.js";
import { evaluate } from "../../src/query/evaluator.js";
import { selectRows } from "../../src/query/row-selection.js";
import { trueRows } from "../../src/query/vectors.js";
import type { ComparisonOperator } from "../../src/sql/index.js";
import { DataType } from "../../src/table/data-type.js";
import { mulberryRandom } from "./random.js";

const OPS: readonly ComparisonOperator[] = ["=", "!=", "<", "<=", ">", ">="];

const column = (index: number, type: DataType): BoundExpr => ({
  kind: "column",
  index,
  name: `c${index}`,
  type,
  pos: undefined,
});
const literal = (type: DataType, value: number | bigint | string | null): BoundExpr => ({
  kind: "literal",
  type,
  value,
});
const compare = (op: ComparisonOperator, left: BoundExpr, right: BoundExpr): BoundExpr => ({
  kind: "compare",
  op,
  left,
  right,
  type: "boolean",
});
const and = (left: BoundExpr, right: BoundExpr): BoundExpr => ({
  kind: "logical",
  op: "AND",
  left,
  right,
  type: "boolean",
});

/** What evaluating the predicate finds: the rows where it is TRUE. */
const evaluated = (predicate: BoundExpr, batch: ColumnBatch) =>
  Array.from(trueRows(evaluate(predicate, batch), batch.numRows));

describe("selectRows", () => {
  const random = mulberryRandom(7);
  const n = 200;
  // Small integers, so that = and != hold often; some NaN, some NULL rows in c1 and c3.
  const numbers = () => Array.from({ length: n }, () => Math.floor(random() * 10));
  const doubles = Float64Array.from(numbers());
  doubles[3] = Number.NaN;
  doubles[17] = Number.NaN;
  const nulls = () => Uint8Array.from({ length: n }, () => (random() < 0.2 ? 0 : 1));
  const columns: Column[] = [
    { type: DataType.Double, values: doubles, validity: null },
    { type: DataType.Float, values: Float32Array.from(numbers()), validity: nulls() },
    { type: DataType.Int32, values: Int32Array.from(numbers()), validity: null },
    { type: DataType.Timestamp, values: Float64Array.from(numbers()), validity: nulls() },
  ];
  const batch: ColumnBatch = { names: ["c0", "c1", "c2", "c3"], columns, numRows: n };

  it("finds the rows evaluation finds, for every operator, type, side and NaN or NULL", () => {
    for (const op of OPS) {
      for (const [i, c] of columns.entries()) {
        for (const value of [4, 4.5, -1, Number.NaN]) {
          const left = compare(op, column(i, c.type), literal(c.type, value));
          const right = compare(op, literal(c.type, value), column(i, c.type));
          for (const predicate of [left, right]) {
            expect(Array.from(selectRows(predicate, batch) ?? [])).toEqual(evaluated(predicate, batch));
          }
        }
      }
    }
  });

  it("finds the rows of ANDs of comparisons, each over the rows the others kept", () => {
    for (let trial = 0; trial < 50; trial++) {
      const pick = () => {
        const i = Math.floor(random() * columns.length);
        const type = (columns[i] as Column).type;
        return compare(
          OPS[Math.floor(random() * OPS.length)] as ComparisonOperator,
          column(i, type),
          literal(type, Math.floor(random() * 10)),
        );
      };
      const predicate = and(and(pick(), pick()), random() < 0.5 ? pick() : and(pick(), pick()));
      expect(Array.from(selectRows(predicate, batch) ?? [])).toEqual(evaluated(predicate, batch));
    }
  });

  it("returns rows of its own, which later selections leave as they are", () => {
    const above = compare(">", column(0, DataType.Double), literal(DataType.Double, 4));
    const below = compare("<", column(0, DataType.Double), literal(DataType.Double, 4));
    const first = selectRows(above, batch) as Uint32Array;
    const kept = Array.from(first);
    selectRows(below, batch);
    expect(Array.from(first)).toEqual(kept);
    expect(kept).toEqual(evaluated(above, batch));
  });

  it("leaves other predicates to evaluation", () => {
    const strings: ColumnBatch = {
      names: ["s", "i"],
      columns: [
        { type: DataType.String, values: ["a", "b"], validity: null },
        { type: DataType.Int64, values: BigInt64Array.of(1n, 2n), validity: null },
      ],
      numRows: 2,
    };
    const onDouble = compare(">", column(0, DataType.Double), literal(DataType.Double, 4));
    for (const predicate of [
      compare("=", column(0, DataType.String), literal(DataType.String, "a")),
      compare(">", column(1, DataType.Int64), literal(DataType.Int64, 1n)),
      compare(">", column(0, DataType.Double), literal(DataType.Double, null)),
      compare(">", column(0, DataType.Double), column(2, DataType.Double)),
      { kind: "logical", op: "OR", left: onDouble, right: onDouble, type: "boolean" } as BoundExpr,
      and(onDouble, compare("=", column(0, DataType.String), literal(DataType.String, "a"))),
    ]) {
      expect(selectRows(predicate, strings)).toBeUndefined();
    }
    // An expression typed as a double over a column that holds something else.
    const mistyped = compare(">", column(1, DataType.Double), literal(DataType.Double, 1));
    expect(selectRows(mistyped, strings)).toBeUndefined();
  });
});
