/**
 * A sort key lane: one unsigned integer per row (indexed by row id), using the low `bits` bits
 * (0 to 32). A row's sort key is its lanes read most significant first.
 */
export interface SortLane {
  readonly values: Uint32Array;
  readonly bits: number;
}

const MAX_DIGIT_BITS = 16;
const MIN_DIGIT_BITS = 4;

/**
 * Stable LSD radix sort of row ids by their lanes (most significant lane first). Rows with equal
 * keys keep the order they have in `order`. Runs in O(rows x passes) with no comparator calls, which
 * is what makes sorting a large memtable cheap. Returns the sorted ids; `order` may be reused as
 * scratch space and must not be read afterwards.
 */
export function radixSortByLanes(order: Uint32Array, lanes: readonly SortLane[]): Uint32Array {
  return runSteps(radixSortSteps(order, lanes));
}

/** `radixSortByLanes` in steps: it yields after each pass over the rows (see `runSteps`). */
export function* radixSortSteps(
  order: Uint32Array,
  lanes: readonly SortLane[],
): Generator<void, Uint32Array> {
  const n = order.length;
  if (n < 2) return order;
  // Small inputs get narrow digits, so clearing the bucket counts does not dominate.
  const digitBits = Math.min(MAX_DIGIT_BITS, Math.max(MIN_DIGIT_BITS, Math.ceil(Math.log2(n))));
  const counts = new Uint32Array((1 << digitBits) + 1);
  let src = order;
  let dst: Uint32Array | undefined;
  for (let l = lanes.length - 1; l >= 0; l--) {
    const lane = lanes[l] as SortLane;
    if (lane.bits <= 0) continue;
    const passes = Math.ceil(lane.bits / digitBits);
    const perPass = Math.ceil(lane.bits / passes);
    for (let p = 0; p < passes; p++) {
      const shift = p * perPass;
      const bits = Math.min(perPass, lane.bits - shift);
      dst ??= new Uint32Array(n);
      if (countingPass(src, dst, lane.values, shift, bits, counts)) {
        const t = src;
        src = dst;
        dst = t;
      }
      yield;
    }
  }
  return src;
}

/**
 * Runs work written as a generator of steps to its end at once. The same generator driven by
 * `runStepsAsync` gives the event loop a turn between steps instead.
 */
export function runSteps<T>(steps: Generator<void, T>): T {
  let step = steps.next();
  while (step.done !== true) step = steps.next();
  return step.value;
}

/** Runs the steps, awaiting `pause()` after each one (it decides whether to yield to the event loop). */
export async function runStepsAsync<T>(steps: Generator<void, T>, pause: () => Promise<void>): Promise<T> {
  let step = steps.next();
  while (step.done !== true) {
    await pause();
    step = steps.next();
  }
  return step.value;
}

/**
 * One stable counting-sort pass on the digit `(lane[row] >>> shift) & mask`. Returns false (and
 * leaves `dst` untouched) when every row has the same digit, so the pass can be skipped.
 */
function countingPass(
  src: Uint32Array,
  dst: Uint32Array,
  lane: Uint32Array,
  shift: number,
  bits: number,
  counts: Uint32Array,
): boolean {
  const n = src.length;
  // bits <= 16 here, so the mask fits a small integer.
  const mask = (1 << bits) - 1;
  counts.fill(0, 0, mask + 2);
  for (let i = 0; i < n; i++) {
    const bucket = (((lane[src[i] as number] as number) >>> shift) & mask) + 1;
    counts[bucket] = (counts[bucket] as number) + 1;
  }
  const first = ((lane[src[0] as number] as number) >>> shift) & mask;
  if (counts[first + 1] === n) return false;
  for (let b = 0; b <= mask; b++) counts[b + 1] = (counts[b + 1] as number) + (counts[b] as number);
  for (let i = 0; i < n; i++) {
    const row = src[i] as number;
    const digit = ((lane[row] as number) >>> shift) & mask;
    dst[counts[digit] as number] = row;
    counts[digit] = (counts[digit] as number) + 1;
  }
  return true;
}

/** Number of bits needed to hold the non-negative integer `value` (0 for 0). */
export function bitLength(value: number): number {
  let bits = 0;
  let v = value;
  while (v >= 1) {
    bits++;
    v = Math.floor(v / 2);
  }
  return bits;
}
