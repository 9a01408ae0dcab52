/** Random cells of every type, and columns built from cells, for the batch tests. */
import { allocateValues, type Column } from "../../src/batch/column.js";
import { DataType, type CellValue } from "../../src/table/data-type.js";

export function randomCell(type: DataType, rnd: () => number): CellValue {
  switch (type) {
    case DataType.Timestamp:
      return Math.floor(rnd() * 2 ** 45);
    case DataType.Double:
      return (rnd() - 0.5) * 1e9;
    case DataType.Float:
      return Math.fround(rnd());
    case DataType.Int64:
      return BigInt(Math.floor((rnd() - 0.5) * 2 ** 52)) * 1000n;
    case DataType.Int32:
      return Math.floor((rnd() - 0.5) * 2 ** 31);
    case DataType.UInt64:
      return 2n ** 64n - 1n - BigInt(Math.floor(rnd() * 1e9));
    case DataType.Boolean:
      return rnd() < 0.5;
    case DataType.String:
      return ["host_1", "héllo", "", "日本", `s${Math.floor(rnd() * 5)}`][Math.floor(rnd() * 5)] as string;
    case DataType.Varbinary:
      return Uint8Array.from({ length: Math.floor(rnd() * 6) }, () => Math.floor(rnd() * 256));
  }
}

export function buildColumn(type: DataType, cells: CellValue[]): Column {
  const values = allocateValues(type, cells.length) as unknown as unknown[];
  const validity = cells.some((c) => c === null) ? new Uint8Array(cells.length) : null;
  cells.forEach((cell, i) => {
    if (cell === null) return;
    if (validity !== null) validity[i] = 1;
    values[i] = type === DataType.Boolean ? (cell ? 1 : 0) : cell;
  });
  return { type, values: values as unknown as Column["values"], validity };
}

export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}
