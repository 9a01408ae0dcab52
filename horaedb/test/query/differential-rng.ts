/** Seeded randomness of the differential test: one seed reproduces its tables and its queries. */
import { mulberryRandom } from "./random.js";

export class Rng {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = mulberryRandom(seed);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.#next();
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }

  chance(probability: number): boolean {
    return this.#next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("cannot pick from an empty list");
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Up to `n` distinct items, in random order. */
  sample<T>(items: readonly T[], n: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < n && pool.length > 0) out.push(pool.splice(this.int(0, pool.length - 1), 1)[0] as T);
    return out;
  }

  shuffle<T>(items: readonly T[]): T[] {
    return this.sample(items, items.length);
  }
}

export class SeedError extends Error {
  constructor(readonly value: string) {
    super(`DIFF_TEST_SEED must be an integer from 0 to 4294967295, not '${value}'`);
    this.name = "SeedError";
  }
}

/** The run's seed: `DIFF_TEST_SEED` when set, else a fresh random one. */
export function differentialSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env["DIFF_TEST_SEED"];
  if (raw === undefined || raw.trim() === "") return Math.floor(Math.random() * 2 ** 32);
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new SeedError(raw);
  return seed;
}
