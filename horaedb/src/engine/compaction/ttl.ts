import type { TableOptions } from "../../table/options.js";

/**
 * The TTL cutoff of a table at `now`: rows with a timestamp below it have expired (`enable_ttl` and
 * `ttl`). Undefined when the table keeps rows forever. Reads hide expired rows and compaction drops
 * them, so when a row disappears does not depend on when compaction runs.
 */
export function expiredBefore(
  options: Pick<TableOptions, "enableTtl" | "ttlMs">,
  now: number,
): number | undefined {
  return options.enableTtl ? now - options.ttlMs : undefined;
}
