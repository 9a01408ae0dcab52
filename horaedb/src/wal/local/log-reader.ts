import { open } from "node:fs/promises";
import type { WalRecord } from "../wal.js";
import { WalCorruptionError } from "./errors.js";
import { SEGMENT_HEADER_BYTES } from "./record-format.js";
import type { SegmentCatalog, SegmentState } from "./segment-catalog.js";
import { SegmentScanner } from "./segment-scanner.js";

export interface LogReadOptions {
  /** Bytes read from a segment file at a time. */
  readonly chunkBytes: number;
  /** Throws if the log was closed; called before each record. */
  readonly checkOpen: () => void;
  /** Called once the reader no longer holds any segment. */
  readonly onFinish: () => void;
}

/**
 * Streams the records with sequence >= `fromSequence`, across segments, checking every record it
 * passes for corruption and sequence continuity. It starts at the nearest remembered record
 * position at or before `fromSequence` (the segment's start when none is remembered).
 *
 * It reads the active segment only up to its durable end, re-checked as it goes, and stops the
 * first time it finds no durable record after the last one it read: a read returns at least
 * everything that was acknowledged when it started, and at most what was durable when it reached
 * the end. Records appended later need a new read.
 */
export async function* readLog(
  catalog: SegmentCatalog,
  fromSequence: number,
  options: LogReadOptions,
): AsyncGenerator<WalRecord, void, undefined> {
  let segment = catalog.segmentFor(fromSequence);
  const pin = catalog.pin(segment);
  try {
    let { sequence: expected, offset: startOffset } = segment.checkpointFor(fromSequence);
    for (;;) {
      const current: SegmentState = segment;
      let reachedSealedEnd = false;
      const handle = await open(current.path, "r");
      try {
        const scanner = new SegmentScanner(handle, startOffset, () => current.durableEnd, options.chunkBytes);
        for (;;) {
          options.checkOpen();
          const step = await scanner.next();
          if (step.kind === "invalid") throw new WalCorruptionError(current.path, step.offset, step.reason);
          if (step.kind === "end") {
            // Decided without an await in between, so no record can become durable unseen.
            if (scanner.offset < current.durableEnd) continue;
            reachedSealedEnd = current.sealed;
            break;
          }
          const { record, groupIndex, offset } = step;
          if (record.sequence !== expected) {
            throw new WalCorruptionError(
              current.path,
              offset,
              `record has sequence ${record.sequence}, expected ${expected}`,
            );
          }
          if (record.sequence - groupIndex < current.firstSequence) {
            throw new WalCorruptionError(
              current.path,
              offset,
              `write group index ${groupIndex} out of range`,
            );
          }
          expected++;
          if (record.sequence >= fromSequence) yield record;
        }
      } finally {
        await handle.close();
      }
      if (!reachedSealedEnd) return;
      const next = catalog.after(current);
      if (next === undefined) return;
      if (next.firstSequence !== expected) {
        throw new WalCorruptionError(
          current.path,
          current.durableEnd,
          `segment ends before sequence ${expected} but the next segment starts at ${next.firstSequence}`,
        );
      }
      segment = next;
      startOffset = SEGMENT_HEADER_BYTES;
      pin.move(next);
    }
  } finally {
    pin.release();
    options.onFinish();
  }
}
