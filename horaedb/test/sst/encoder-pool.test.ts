/**
 * The encoder pool runs the compiled worker from dist/: build first (`npx tsc -b horaedb`).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { Column } from "../../src/batch/column.js";
import type { ColumnBatch } from "../../src/batch/column-batch.js";
import {
  arrowColumnBuffers,
  arrowColumnSpecs,
  encodeColumns,
  encodeSst,
  SstEncodeError,
  SstEncoderClosedError,
  SstEncoderPool,
  SstEncoderQueueFullError,
  SstWriter,
  readSst,
  type ArrowColumnBuffers,
  type ParquetEncodeSettings,
  type SstWriteRequest,
} from "../../src/sst/index.js";
import { allTypesBatch, allTypesSchema, collect, openTempStore, rowsOf, rowsOfAll } from "./fixtures.js";

const pools: SstEncoderPool[] = [];
function pool(options?: ConstructorParameters<typeof SstEncoderPool>[0]): SstEncoderPool {
  const p = new SstEncoderPool(options);
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function request(n: number, hosts = 4): SstWriteRequest {
  return {
    schema: allTypesSchema(),
    batches: [allTypesBatch(n, hosts)],
    options: { numRowsPerRowGroup: 1000 },
    maxSequence: 5,
  };
}

const SETTINGS: ParquetEncodeSettings = {
  compression: "ZSTD",
  maxRowGroupSize: 1000,
  metaJson: '{"crc32c":"00000000"}',
  columns: [],
};

/** A small job for the pool's raw interface. */
function smallJob(): ArrowColumnBuffers[] {
  const batch = allTypesBatch(50, 2);
  const specs = arrowColumnSpecs(batch, allTypesSchema());
  return specs.map((spec, i) => arrowColumnBuffers(spec, batch.columns[i] as Column, batch.numRows));
}

describe("SstEncoderPool", () => {
  it("encodes the same bytes in a worker as in the calling thread", async () => {
    const inThread = await encodeSst(request(5000));
    const inWorker = await new SstWriter({ pool: pool(), inThreadMaxRows: 0 }).encode(request(5000));
    expect(Buffer.from(inWorker.bytes).equals(Buffer.from(inThread.bytes))).toBe(true);
    expect(inWorker.meta).toEqual(inThread.meta);
  });

  it("runs concurrent jobs on several workers and every result decodes", async () => {
    const p = pool({ workers: 2, maxQueuedJobs: 8 });
    const writer = new SstWriter({ pool: p, inThreadMaxRows: 0 });
    const requests = [3000, 1200, 4000, 800, 2500, 1800].map((n, i) => request(n, 2 + i));
    const results = await Promise.all(requests.map((r) => writer.encode(r)));
    expect(p.stats()).toMatchObject({ completed: 6, failed: 0, queued: 0, busy: 0 });
    expect(p.stats().workers).toBe(2);
    const temp = await openTempStore();
    try {
      for (const [i, result] of results.entries()) {
        await temp.store.put(`sst/${i}.parquet`, result.bytes);
        const rows = rowsOfAll(await collect(readSst(temp.store, `sst/${i}.parquet`, { meta: result.meta })));
        expect(rows).toEqual(rowsOf((requests[i] as SstWriteRequest).batches[0] as ColumnBatch));
      }
    } finally {
      await temp.remove();
    }
  });

  it("encodes small files in the calling thread", async () => {
    const p = pool();
    await new SstWriter({ pool: p, inThreadMaxRows: 1000 }).encode(request(500));
    expect(p.stats()).toMatchObject({ completed: 0, workersStarted: 0 });
  });

  it("transfers the buffers it owns and copies the ones it borrows", async () => {
    const p = pool();
    const columns = smallJob();
    const host = columns.find((c) => c.spec.name === "host") as ArrowColumnBuffers;
    const f64 = columns.find((c) => c.spec.name === "f64") as ArrowColumnBuffers;
    expect(f64.borrowed).toBe(true);
    const done = p.encode(columns, SETTINGS);
    // The dictionary indices were built for the job and moved to the worker; the caller's doubles stay.
    expect(host.values.byteLength).toBe(0);
    expect(f64.values.byteLength).toBe(50 * 8);
    expect((await done).bytes.byteLength).toBeGreaterThan(0);
  });

  it("takes over the arrays of a request that hands them over, and copies them otherwise", async () => {
    const writer = new SstWriter({ pool: pool(), inThreadMaxRows: 0 });
    const doublesOf = (r: SstWriteRequest) => {
      const batch = r.batches[0] as ColumnBatch;
      return batch.columns[batch.names.indexOf("f64")]?.values as Float64Array;
    };
    const kept = request(3000);
    const keptDoubles = doublesOf(kept);
    const copied = await writer.encode(kept);
    expect(keptDoubles.length).toBe(3000);

    const handedOver = { ...request(3000), handOverArrays: true };
    const handedDoubles = doublesOf(handedOver);
    const moved = await writer.encode(handedOver);
    // Transferred to the worker rather than copied: detached here.
    expect(handedDoubles.length).toBe(0);
    expect(Buffer.from(moved.bytes).equals(Buffer.from(copied.bytes))).toBe(true);
  });

  it("rejects jobs beyond the queue bound", async () => {
    const p = pool({ workers: 1, maxQueuedJobs: 1 });
    const first = p.encode(smallJob(), SETTINGS);
    const second = p.encode(smallJob(), SETTINGS);
    await expect(p.encode(smallJob(), SETTINGS)).rejects.toThrow(SstEncoderQueueFullError);
    await expect(Promise.all([first, second])).resolves.toHaveLength(2);
  });

  it("reports encoding failures, including a parquet-wasm panic, and keeps working", async () => {
    const p = pool();
    // parquet-rs panics on a zero row-group size: a wasm trap inside the worker.
    await expect(p.encode(smallJob(), { ...SETTINGS, maxRowGroupSize: 0 })).rejects.toThrow(/trapped/);
    const bad = smallJob().map((c) =>
      c.spec.name === "host" ? { ...c, values: Int32Array.from({ length: 50 }, () => 7) } : c,
    );
    await expect(p.encode(bad, SETTINGS)).rejects.toThrow(SstEncodeError);
    const expected = encodeColumns(smallJob(), SETTINGS);
    const result = await p.encode(smallJob(), SETTINGS);
    expect(Buffer.from(result.bytes).equals(Buffer.from(expected.bytes))).toBe(true);
    expect(p.stats()).toMatchObject({ completed: 1, failed: 2, workersStarted: 1 });
  });

  it("fails the job of a worker that dies and starts a replacement", async () => {
    const dir = await mkdtemp(join(tmpdir(), "horaedb-sst-worker-"));
    try {
      const script = join(dir, "dying-worker.mjs");
      await writeFile(
        script,
        'import { parentPort } from "node:worker_threads";\nparentPort.on("message", () => process.exit(3));\n',
      );
      const p = pool({ workerUrl: pathToFileURL(script) });
      await expect(p.encode(smallJob(), SETTINGS)).rejects.toThrow(SstEncodeError);
      await expect(p.encode(smallJob(), SETTINGS)).rejects.toThrow(SstEncodeError);
      expect(p.stats()).toMatchObject({ workersStarted: 2, failed: 2, workers: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops a worker that stays idle for idleTimeoutMs, and starts one for the next job", async () => {
    const p = pool({ idleTimeoutMs: 50 });
    await p.encode(smallJob(), SETTINGS);
    expect(p.stats()).toMatchObject({ workers: 1, workersStarted: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(p.stats().workers).toBe(0);
    await p.encode(smallJob(), SETTINGS);
    expect(p.stats()).toMatchObject({ workers: 1, workersStarted: 2, completed: 2 });
  });

  it("close rejects waiting and running jobs, and later ones", async () => {
    const p = pool({ workers: 1, maxQueuedJobs: 4 });
    const jobs = [1, 2, 3].map(() => p.encode(smallJob(), SETTINGS));
    const settled = Promise.allSettled(jobs);
    await p.close();
    for (const outcome of await settled) {
      expect(outcome.status).toBe("rejected");
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SstEncoderClosedError);
    }
    await expect(p.encode(smallJob(), SETTINGS)).rejects.toThrow(SstEncoderClosedError);
  });
});
