/** Figures as one JSON object per line on stdout, and the statistics they are made of. */
import { cpus, loadavg } from "node:os";

/** Prints one figure: {"name","value","unit"}, the value rounded to two decimals. */
export function emit(name: string, value: number, unit: string): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit }));
}

/** The nearest-rank percentile (0 < p <= 100) of the samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError("percentile of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError("median of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** How busy the machine was: latencies depend on what else it runs. */
export function emitHostLoad(): void {
  emit("host.load_average_1m", loadavg()[0] as number, "runnable");
  emit("host.cpus", cpus().length, "cpus");
}

/** A command-line flag with a value the bench cannot use. */
export class FlagError extends RangeError {
  override readonly name = "FlagError";
}

/** A positive integer flag, or a FlagError naming the flag. */
export function positiveInteger(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new FlagError(`--${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * Runs `read` (parseArgs and the checks of the values); on a bad flag prints why and exits with
 * status 2, before the bench has started anything.
 */
export function readFlags<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const parseError = typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
    if (!(error instanceof FlagError) && !parseError) throw error;
    console.error(`error: ${(error as Error).message}`);
    process.exit(2);
  }
}
