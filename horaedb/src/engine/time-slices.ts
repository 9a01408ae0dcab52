import type { TimeRange } from "./row-filter.js";

/** A source of rows whose timestamps all lie in [min, max] (both inclusive). */
export interface TimeSpan {
  readonly min: number;
  readonly max: number;
}

/** A stretch of time and the sources holding rows in it. */
export interface TimeSlice<S extends TimeSpan> {
  /** The slice's rows are those of `sources` with start <= timestamp < end. */
  readonly range: TimeRange;
  /** Ascending by `min`, as the sources were given otherwise. */
  readonly sources: readonly S[];
}

/**
 * Cuts the time axis into slices such that, inside each slice, the same set of sources may hold
 * rows, and returns the slices that some source covers, in ascending time order. A source that
 * overlaps no other is one slice over its whole span; where sources overlap, only the time they
 * share is a slice of several sources, and the time only one of them covers is a slice of that one.
 *
 * Rows of different slices never share a primary key (the timestamp is part of every key), so a
 * scan may read a one-source slice straight through and merge only the slices of several sources.
 * The slices depend on the sources' spans alone, not on a query's time range, so a scan narrowed to
 * a time range returns its rows in the same relative order as the whole scan.
 */
export function timeSlices<S extends TimeSpan>(sources: readonly S[]): TimeSlice<S>[] {
  const sorted = [...sources].sort((a, b) => a.min - b.min);
  // Half-open boundaries: a source covers [min, max + 1); timestamps are integer milliseconds.
  const endOf = (s: S) => s.max + 1;
  const bounds = [...new Set(sorted.flatMap((s) => [s.min, endOf(s)]))].sort((a, b) => a - b);
  const slices: TimeSlice<S>[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i] as number;
    const end = bounds[i + 1] as number;
    const covering = sorted.filter((s) => s.min <= start && endOf(s) >= end);
    if (covering.length === 0) continue;
    const previous = slices[slices.length - 1];
    if (previous !== undefined && previous.range.end === start && sameSources(previous.sources, covering)) {
      slices[slices.length - 1] = { range: { start: previous.range.start, end }, sources: covering };
    } else {
      slices.push({ range: { start, end }, sources: covering });
    }
  }
  return slices;
}

function sameSources<S>(a: readonly S[], b: readonly S[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}
