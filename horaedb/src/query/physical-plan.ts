/**
 * Turns a logical plan into the operators that run it. A sort wanting only its first rows
 * (ORDER BY ... LIMIT) becomes a bounded top-N heap instead of a full sort.
 */
import type { LogicalPlan } from "./logical-plan.js";
import { FilterOperator } from "./operators/filter.js";
import { HashAggregateOperator } from "./operators/hash-aggregate.js";
import { LimitOperator } from "./operators/limit.js";
import type { Operator } from "./operators/operator.js";
import { ProjectOperator } from "./operators/project.js";
import { ScanOperator, type TableReader } from "./operators/scan.js";
import { SortOperator } from "./operators/sort.js";
import { TopNOperator } from "./operators/top-n.js";
import { SingleRowOperator } from "./operators/values.js";

export interface PhysicalPlanOptions {
  /** Rows per batch the scan asks the engine for. */
  readonly batchSize?: number | undefined;
}

export function createOperators(
  plan: LogicalPlan,
  reader: TableReader,
  options: PhysicalPlanOptions = {},
): Operator {
  const build = (node: LogicalPlan): Operator => {
    switch (node.kind) {
      case "scan":
        return new ScanOperator(reader, node, options.batchSize);
      case "values":
        return new SingleRowOperator();
      case "filter":
        return new FilterOperator(build(node.input), node.predicate, node.clause);
      case "aggregate":
        return new HashAggregateOperator(
          build(node.input),
          node.groupKeys,
          node.aggregates,
          node.fields,
          node.distinct,
        );
      case "project":
        return new ProjectOperator(build(node.input), node.exprs, node.fields);
      case "sort":
        return node.fetch === undefined
          ? new SortOperator(build(node.input), node.keys)
          : new TopNOperator(build(node.input), node.keys, node.fetch);
      case "limit":
        return new LimitOperator(build(node.input), node.offset, node.limit);
    }
  };
  return build(plan);
}
