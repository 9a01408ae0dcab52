import { tableFromArrays, tableToIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { encodeParquet, verifyChecksum } from "../../src/sst/index.js";
import { discardOnTrap, isWasmTrap, parquetWasm, parquetWasmGeneration } from "../../src/sst/parquet-wasm.js";

const SETTINGS = {
  compression: "UNCOMPRESSED",
  maxRowGroupSize: 1000,
  metaJson: '{"crc32c":"00000000"}',
  columns: [],
} as const;

function sampleIpc(): Uint8Array {
  const n = 5000;
  const table = tableFromArrays({
    a: Float64Array.from({ length: n }, (_, i) => i * 1.5),
    s: Array.from({ length: n }, (_, i) => `v${i % 50}`),
  });
  return tableToIPC(table, "stream");
}

describe("parquet-wasm instance", () => {
  it("is replaced after a trap, and the replacement works", () => {
    const { bytes } = encodeParquet(sampleIpc(), SETTINGS);
    // Damaged files make parquet-wasm panic now and then; search deterministically for one.
    let trapped = false;
    for (let attempt = 0; attempt < 2000 && !trapped; attempt++) {
      const bad = bytes.slice();
      const at = 4 + ((attempt * 7919) % (bytes.length - 2000));
      for (let i = 0; i < 8; i++) bad[at + i] = (bad[at + i] as number) ^ (0xa5 + (attempt >> 9));
      try {
        parquetWasm().readParquet(bad);
      } catch (error) {
        if (isWasmTrap(error)) {
          trapped = true;
          const before = parquetWasmGeneration();
          // The trapped instance may be left broken (a panic can abandon its allocator mid-update),
          // so it is dropped and the next call gets a fresh one.
          discardOnTrap(error);
          expect(parquetWasm().readParquet(bytes).numBatches).toBe(5);
          expect(parquetWasmGeneration()).toBe(before + 1);
        }
      }
    }
    expect(trapped).toBe(true);
    const again = encodeParquet(sampleIpc(), SETTINGS);
    expect(Buffer.from(again.bytes).equals(Buffer.from(bytes))).toBe(true);
  });

  it("seals a checksum that verifies, and any changed byte breaks it", () => {
    const { bytes, crc32c } = encodeParquet(sampleIpc(), SETTINGS);
    expect(verifyChecksum(bytes)).toEqual({ ok: true, crc32c });
    for (const at of [0, 100, bytes.length >> 1, bytes.length - 30, bytes.length - 1]) {
      const bad = bytes.slice();
      bad[at] = (bad[at] as number) ^ 1;
      expect(verifyChecksum(bad).ok).toBe(false);
    }
  });
});
