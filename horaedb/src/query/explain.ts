/**
 * EXPLAIN text: the operator tree one line per operator, children indented under their parent.
 * The scan's line shows what was pushed into it (projection, time range, tag filter). With
 * ANALYZE, each line also shows the rows it produced and the time spent in it alone, followed by
 * details such as what the scan read and pruned.
 */
import type { Operator } from "./operators/operator.js";

const INDENT = "  ";

export interface ExplainSummary {
  readonly totalMs: number;
  readonly rows: number;
  readonly peakMemoryBytes: number;
}

export function formatOperatorTree(root: Operator, analyzed: ExplainSummary | undefined): string[] {
  const lines: string[] = [];
  if (analyzed !== undefined) {
    lines.push(
      `Query: rows=${analyzed.rows} time=${formatMs(analyzed.totalMs)} peakMemory=${analyzed.peakMemoryBytes} bytes`,
    );
  }
  const visit = (op: Operator, depth: number) => {
    const indent = INDENT.repeat(depth);
    if (analyzed === undefined) {
      lines.push(`${indent}${op.describe()}`);
    } else {
      const { outputRows, outputBatches } = op.metrics;
      lines.push(
        `${indent}${op.describe()} [rows=${outputRows} batches=${outputBatches} time=${formatMs(op.selfElapsedMs)}]`,
      );
      for (const detail of op.analyzeDetails()) lines.push(`${indent}${INDENT}  ${detail}`);
    }
    for (const child of op.children) visit(child, depth + 1);
  };
  visit(root, 0);
  return lines;
}

function formatMs(ms: number): string {
  return `${ms.toFixed(3)}ms`;
}
