/** Spacing of the record offsets a segment remembers, so a read need not scan from its start. */
const CHECKPOINT_SPACING_BYTES = 256 * 1024;

export interface SegmentCheckpoint {
  readonly sequence: number;
  /** Offset of the header of the record with `sequence`. */
  readonly offset: number;
}

/** What the shard WAL knows about one segment file. Mutated only by the writer. */
export class SegmentState {
  readonly firstSequence: number;
  readonly path: string;
  /** Every byte before this offset is part of a complete record that has been fsync'd. */
  durableEnd: number;
  /** One past the sequence of the last durable record (= firstSequence when it has none). */
  endSequence: number;
  /** No more records will be written to it: it is not the active segment. */
  sealed: boolean;
  /** Ascending by sequence; starts with the segment's first record. */
  readonly #checkpoints: SegmentCheckpoint[];

  constructor(
    firstSequence: number,
    path: string,
    durableEnd: number,
    endSequence: number,
    sealed: boolean,
    dataStart: number,
  ) {
    this.firstSequence = firstSequence;
    this.path = path;
    this.durableEnd = durableEnd;
    this.endSequence = endSequence;
    this.sealed = sealed;
    this.#checkpoints = [{ sequence: firstSequence, offset: dataStart }];
  }

  /** Remembers where a durable record starts (kept only every few hundred KiB). */
  addCheckpoint(sequence: number, offset: number): void {
    const last = this.#checkpoints[this.#checkpoints.length - 1]!;
    if (offset - last.offset >= CHECKPOINT_SPACING_BYTES && sequence > last.sequence) {
      this.#checkpoints.push({ sequence, offset });
    }
  }

  /** The last remembered record position at or before `sequence`. */
  checkpointFor(sequence: number): SegmentCheckpoint {
    const points = this.#checkpoints;
    let low = 0;
    let high = points.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (points[mid]!.sequence <= sequence) low = mid;
      else high = mid - 1;
    }
    return points[low]!;
  }
}

/** Keeps a reader's current segment (and every later one) from being deleted. */
export interface SegmentPin {
  move(segment: SegmentState): void;
  release(): void;
}

/**
 * The ordered segments of one shard, the last being the active one, plus the segments readers are
 * positioned on, which truncation must not delete under them.
 */
export class SegmentCatalog {
  readonly #segments: SegmentState[];
  readonly #pins = new Set<{ segment: SegmentState }>();

  constructor(segments: SegmentState[]) {
    if (segments.length === 0) throw new Error("a shard WAL always has an active segment");
    this.#segments = segments;
  }

  get active(): SegmentState {
    return this.#segments[this.#segments.length - 1]!;
  }

  get segments(): readonly SegmentState[] {
    return this.#segments;
  }

  get hasPins(): boolean {
    return this.#pins.size > 0;
  }

  /** The segment that holds `sequence`, or the first segment when `sequence` was truncated away. */
  segmentFor(sequence: number): SegmentState {
    let low = 0;
    let high = this.#segments.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.#segments[mid]!.firstSequence <= sequence) low = mid;
      else high = mid - 1;
    }
    return this.#segments[low]!;
  }

  /** The segment after `segment`, which must still be in the catalog. */
  after(segment: SegmentState): SegmentState | undefined {
    const index = this.#segments.indexOf(segment);
    return index < 0 ? undefined : this.#segments[index + 1];
  }

  /** Makes `segment` the new active segment; the previous one is sealed. */
  roll(segment: SegmentState): void {
    this.active.sealed = true;
    this.#segments.push(segment);
  }

  pin(segment: SegmentState): SegmentPin {
    const entry = { segment };
    this.#pins.add(entry);
    return {
      move: (next) => {
        entry.segment = next;
      },
      release: () => {
        this.#pins.delete(entry);
      },
    };
  }

  /**
   * Removes and returns the first segment if every record in it is below `sequence`, it is not
   * the active segment, and no reader is positioned on it or before it; otherwise undefined.
   */
  takeDeletable(sequence: number): SegmentState | undefined {
    const first = this.#segments[0]!;
    const second = this.#segments[1];
    if (second === undefined || second.firstSequence > sequence) return undefined;
    for (const pin of this.#pins) if (pin.segment.firstSequence <= first.firstSequence) return undefined;
    this.#segments.shift();
    return first;
  }
}
