/** Query results as plain text tables, for golden files and readable test failures. */
import type { CellValue } from "../../src/table/data-type.js";
import { resultRowArrays, type QueryResult } from "../../src/query/index.js";

export function formatCell(value: CellValue, type: string): string {
  if (value === null) return "NULL";
  if (type === "timestamp") return new Date(value as number).toISOString();
  if (value instanceof Uint8Array) return `x'${Buffer.from(value).toString("hex")}'`;
  return String(value);
}

/** Header (names), types, a rule, one line per row (` | ` between cells), and the row count. */
export function formatResult(result: QueryResult): string {
  const types = result.columns.map((c) => c.type);
  const lines = [result.columns.map((c) => c.name).join(" | "), types.join(" | "), "-".repeat(8)];
  const rows = resultRowArrays(result);
  for (const row of rows) lines.push(row.map((v, i) => formatCell(v, types[i] as string)).join(" | "));
  lines.push(`(${rows.length} row${rows.length === 1 ? "" : "s"})`);
  return lines.join("\n");
}
