import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  FIRST_FILE_ID,
  INITIAL_FLUSHED_SEQUENCE,
  ManifestEditError,
  ManifestOp,
  TableManifest,
  type ManifestEdit,
  type SstFileEntry,
} from "../../src/manifest/index.js";
import type { TableSchemaJson } from "../../src/table/schema.js";
import {
  cpuSchema,
  listManifest,
  openTempStore,
  PREFIX,
  schemaAtVersion,
  seededRandom,
  sstEntry,
  type TempStore,
} from "./fixtures.js";

// Replay a failure with MANIFEST_MODEL_SEED=<seed printed by the failing run>.
const BASE_SEED = Number(process.env.MANIFEST_MODEL_SEED ?? 20_251_121);
const RUNS = 4;
const COMMITS_PER_RUN = 150;

/** The test's own account of what the manifest must hold, kept without the code under test. */
interface Model {
  version: number;
  schema: TableSchemaJson;
  options: Record<string, string>;
  flushedSequence: number;
  ssts: Map<number, SstFileEntry>;
  nextFileId: number;
}

const OPTION_CHOICES: Array<[string, string[]]> = [
  ["ttl", ["1d", "7d", "30d", "12h"]],
  ["enable_ttl", ["true", "false"]],
  ["compression", ["ZSTD", "SNAPPY", "LZ4_RAW"]],
  ["update_mode", ["OVERWRITE", "APPEND"]],
  ["segment_duration", ["2h", "1d"]],
  ["num_rows_per_row_group", ["1024", "8192"]],
];

let temp: TempStore;
beforeEach(async () => {
  temp = await openTempStore();
});
afterEach(async () => {
  await temp.remove();
});

describe("manifest model test", () => {
  for (let run = 0; run < RUNS; run++) {
    const seed = BASE_SEED + run;
    it(`reloads what was committed after random edit sequences (seed ${seed})`, async () => {
      console.log(`manifest model test seed=${seed}`);
      const random = seededRandom(seed);
      const int = (n: number) => Math.floor(random() * n);
      const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
      const snapshotEvery = pick([1, 2, 3, 5, 20]);
      const prefix = `${PREFIX.slice(0, -"manifest/".length)}${seed}/manifest/`;

      let manifest = await TableManifest.create(
        temp.store,
        prefix,
        { schema: cpuSchema(), options: {} },
        { snapshotEvery },
      );
      const model: Model = {
        version: 1,
        schema: cpuSchema(),
        options: {},
        flushedSequence: INITIAL_FLUSHED_SEQUENCE,
        ssts: new Map(),
        nextFileId: FIRST_FILE_ID,
      };
      let sequence = 0;

      /** A valid random edit, applied to the model as it is built. */
      const validEdit = (): ManifestEdit => {
        const kind = int(10);
        if (kind < 4) {
          // Flush: allocate ids, add one or two SSTs, advance the flushed sequence.
          const count = 1 + int(2);
          const edit: ManifestEdit = [ManifestOp.allocateFileIds(count)];
          const first = model.nextFileId;
          model.nextFileId += count;
          const added = Array.from({ length: count }, (_, i) =>
            sstEntry(first + i, {
              schemaVersion: 1 + int(model.schema.version),
              maxSequence: sequence + int(100),
              meta: { rowGroups: int(5), stats: { min: random(), max: [int(9), "x"] } },
            }),
          );
          sequence += 1 + int(1000);
          for (const sst of added) model.ssts.set(sst.fileId, sst);
          model.flushedSequence = sequence;
          return [
            ...edit,
            ...added.map((sst) => ManifestOp.addSst(sst)),
            ManifestOp.setFlushedSequence(sequence),
          ];
        }
        if (kind < 6 && model.ssts.size >= 2) {
          // Compaction: outputs added and inputs removed in one edit.
          const inputs = [...model.ssts.keys()].filter(() => random() < 0.6).slice(0, 4);
          if (inputs.length === 0) inputs.push([...model.ssts.keys()][0]!);
          const output = sstEntry(model.nextFileId, { schemaVersion: model.schema.version });
          model.nextFileId += 1;
          model.ssts.set(output.fileId, output);
          for (const id of inputs) model.ssts.delete(id);
          return [
            ManifestOp.allocateFileIds(1),
            ManifestOp.addSst(output),
            ...inputs.map((id) => ManifestOp.removeSst(id)),
          ];
        }
        if (kind < 7) {
          model.schema = schemaAtVersion(model.schema.version + 1 + int(2));
          return [ManifestOp.alterSchema(model.schema)];
        }
        if (kind < 8) {
          const [name, values] = pick(OPTION_CHOICES);
          const changed = { [name]: pick(values) };
          model.options = { ...model.options, ...changed };
          return [ManifestOp.alterOptions(changed)];
        }
        if (kind < 9) {
          sequence += int(3);
          model.flushedSequence = sequence;
          return [ManifestOp.setFlushedSequence(sequence)];
        }
        const count = 1 + int(50);
        model.nextFileId += count;
        return [ManifestOp.allocateFileIds(count)];
      };

      /** An edit the manifest must refuse without writing anything. */
      const invalidEdit = (): ManifestEdit =>
        pick<ManifestEdit>([
          [ManifestOp.setFlushedSequence(model.flushedSequence - 1 - int(5))],
          [ManifestOp.alterSchema(schemaAtVersion(Math.max(1, model.schema.version - int(2))))],
          [ManifestOp.removeSst(model.nextFileId + int(3))],
          [ManifestOp.addSst(sstEntry(model.nextFileId))],
          [ManifestOp.allocateFileIds(1), ManifestOp.removeSst(-1)],
        ]);

      for (let i = 0; i < COMMITS_PER_RUN; i++) {
        if (random() < 0.1) {
          const before = manifest.state;
          await expect(manifest.commit(invalidEdit())).rejects.toBeInstanceOf(ManifestEditError);
          expect(manifest.state).toBe(before);
          continue;
        }
        await manifest.commit(validEdit());
        model.version += 1;
        expect(manifest.state).toEqual(model);
        if (random() < 0.15) {
          // Reload from object storage alone and continue with the reloaded manifest.
          const reloaded = await TableManifest.load(await temp.reopen(), prefix, { snapshotEvery });
          expect(reloaded?.state).toEqual(model);
          manifest = reloaded!;
        }
      }
      const final = await TableManifest.load(await temp.reopen(), prefix);
      expect(final?.state).toEqual(model);
      // Never more objects than one snapshot and the edits since.
      expect((await listManifest(temp.store, prefix)).length).toBeLessThanOrEqual(snapshotEvery + 1);
    });
  }
});
