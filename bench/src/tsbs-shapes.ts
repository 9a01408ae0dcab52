/** The `--queries` flag: a comma-separated list of TSBS query shapes. */
import { TSBS_QUERY_SHAPES, type TsbsQueryShape } from "@horaedb/horaedb/testing";
import { FlagError } from "./report.js";

export function parseShapes(list: string | undefined): TsbsQueryShape[] {
  const names = (list ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const unknown = names.filter((name) => !(TSBS_QUERY_SHAPES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new FlagError(
      `unknown query shape(s) ${unknown.join(", ")}; known: ${TSBS_QUERY_SHAPES.join(", ")}`,
    );
  }
  if (names.length === 0) throw new FlagError("--queries names no query shape");
  return names as TsbsQueryShape[];
}
