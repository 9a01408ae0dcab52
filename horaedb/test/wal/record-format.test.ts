import { describe, expect, it } from "vitest";
import {
  decodeRecord,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  parseSegmentFileName,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
} from "../../src/wal/local/index.js";
import { payloadFor } from "./wal-test-support.js";

describe("WAL record format", () => {
  it("round-trips a record, reporting its group index and end", () => {
    const record = { sequence: 2 ** 40 + 5, tableId: 12345, shardVersion: 9, payload: payloadFor(3, 1000) };
    const bytes = encodeRecord(record, 4);
    expect(bytes.byteLength).toBe(RECORD_HEADER_BYTES + 1000);
    const decoded = decodeRecord(bytes, 0);
    if (typeof decoded === "string") throw new Error(decoded);
    expect(decoded.record.sequence).toBe(record.sequence);
    expect(decoded.record.tableId).toBe(12345);
    expect(decoded.record.shardVersion).toBe(9);
    expect(decoded.groupIndex).toBe(4);
    expect(decoded.end).toBe(bytes.byteLength);
    expect(Buffer.from(decoded.record.payload).equals(Buffer.from(record.payload))).toBe(true);
  });

  it("detects a change to any byte of the header or payload", () => {
    const bytes = encodeRecord({ sequence: 1, tableId: 2, shardVersion: 3, payload: payloadFor(1, 64) });
    for (let i = 0; i < bytes.byteLength; i++) {
      const damaged = Buffer.from(bytes);
      damaged[i] = damaged[i]! ^ 0x01;
      expect(typeof decodeRecord(damaged, 0), `byte ${i}`).toBe("string");
    }
  });

  it("reports a short header and a short payload", () => {
    const bytes = encodeRecord({ sequence: 1, tableId: 2, shardVersion: 3, payload: payloadFor(1, 64) });
    expect(decodeRecord(bytes.subarray(0, 20), 0)).toBe("short record header");
    expect(decodeRecord(bytes.subarray(0, bytes.byteLength - 1), 0)).toBe("short record payload");
  });

  it("round-trips segment headers and rejects damaged ones", () => {
    for (const header of [
      { firstSequence: 0, previousFirstSequence: undefined },
      { firstSequence: 1000, previousFirstSequence: 17 },
    ]) {
      const bytes = encodeSegmentHeader(header);
      expect(bytes.byteLength).toBe(SEGMENT_HEADER_BYTES);
      expect(decodeSegmentHeader(bytes)).toEqual(header);
      for (let i = 0; i < 28; i++) {
        const damaged = Buffer.from(bytes);
        damaged[i] = damaged[i]! ^ 0x10;
        expect(typeof decodeSegmentHeader(damaged), `byte ${i}`).toBe("string");
      }
    }
    expect(typeof decodeSegmentHeader(Buffer.alloc(10))).toBe("string");
  });

  it("names segments so that name order is sequence order", () => {
    const sequences = [0, 9, 10, 99, 100, 123_456_789, Number.MAX_SAFE_INTEGER];
    const names = sequences.map(segmentFileName);
    expect([...names].sort()).toEqual(names);
    expect(names.map(parseSegmentFileName)).toEqual(sequences);
    expect(parseSegmentFileName("00000000000000000010.wal.tmp")).toBeUndefined();
    expect(parseSegmentFileName("10.wal")).toBeUndefined();
  });
});
