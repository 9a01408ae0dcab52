import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ManifestOp,
  ManifestWriteError,
  TableManifest,
  type ManifestEdit,
  type ManifestState,
} from "../../src/manifest/index.js";
import {
  CrashingObjectStore,
  cpuSchema,
  listManifest,
  openTempStore,
  PREFIX,
  schemaAtVersion,
  SimulatedCrash,
  snapshotName,
  sstEntry,
  type TempStore,
} from "./fixtures.js";

const SNAPSHOT_EVERY = 3;
const LAST_VERSION = 14;

/** The edit that makes version state.version + 1: a fixed mix of flushes, compactions and alters. */
function scriptedEdit(state: ManifestState): ManifestEdit {
  const v = state.version + 1;
  const next = state.nextFileId;
  switch (v % 5) {
    case 2:
      return [
        ManifestOp.allocateFileIds(2),
        ManifestOp.addSst(sstEntry(next, { schemaVersion: state.schema.version })),
        ManifestOp.setFlushedSequence(v * 10),
      ];
    case 3:
      return [ManifestOp.addSst(sstEntry(next - 1, { schemaVersion: state.schema.version }))];
    case 4:
      return [ManifestOp.setFlushedSequence(v * 10 + 5)];
    case 0: {
      const inputs = [...state.ssts.keys()].sort((a, b) => a - b).slice(0, 2);
      return [
        ManifestOp.allocateFileIds(1),
        ManifestOp.addSst(sstEntry(next, { schemaVersion: state.schema.version })),
        ...inputs.map((id) => ManifestOp.removeSst(id)),
      ];
    }
    default:
      return v % 2 === 0
        ? [ManifestOp.alterSchema(schemaAtVersion(state.schema.version + 1))]
        : [ManifestOp.alterOptions({ ttl: `${v}d` })];
  }
}

interface RunResult {
  /** Version of the last commit (or create) that returned; 0 if none did. */
  readonly lastReturned: number;
  readonly states: ManifestState[];
}

/** Creates the table and commits up to LAST_VERSION, stopping at the first error. */
async function runScript(store: CrashingObjectStore): Promise<RunResult> {
  const states: ManifestState[] = [];
  let lastReturned = 0;
  try {
    const manifest = await TableManifest.create(
      store,
      PREFIX,
      { schema: cpuSchema(), options: {} },
      // A failed snapshot does not fail the commit; the crash shows at the next operation.
      { snapshotEvery: SNAPSHOT_EVERY, onSnapshotError: () => {} },
    );
    states[1] = manifest.state;
    lastReturned = 1;
    while (manifest.version < LAST_VERSION) {
      const state = await manifest.commit(scriptedEdit(manifest.state));
      states[state.version] = state;
      lastReturned = state.version;
    }
  } catch (e) {
    const crash = e instanceof ManifestWriteError ? e.cause : e;
    if (!(crash instanceof SimulatedCrash)) throw e;
  }
  return { lastReturned, states };
}

let temp: TempStore;
beforeEach(async () => {
  temp = await openTempStore();
});
afterEach(async () => {
  await temp.remove();
});

describe("manifest crash safety", () => {
  it("loads the last committed state after a crash between any two object operations", async () => {
    const reference = new CrashingObjectStore(temp.store, Number.POSITIVE_INFINITY, "lost");
    const { states: expected } = await runScript(reference);
    const mutations = reference.mutations;
    // Sanity: the script exercises snapshots and their cleanup.
    expect(mutations.filter((m) => m.op === "delete").length).toBeGreaterThan(8);
    expect(mutations.filter((m) => m.key.includes("/snapshot-")).length).toBeGreaterThan(4);
    await temp.remove();

    for (let crashAt = 0; crashAt < mutations.length; crashAt++) {
      for (const effect of ["lost", "applied"] as const) {
        const mutation = mutations[crashAt]!;
        const where = `crash at mutation ${crashAt} (${mutation.op} ${mutation.key}, ${effect})`;
        const run = await openTempStore();
        try {
          const crashing = new CrashingObjectStore(run.store, crashAt, effect);
          const { lastReturned } = await runScript(crashing);
          expect(crashing.crashed, where).toBe(true);

          // An edit put that happened is committed even though its writer never heard back.
          const editLanded = effect === "applied" && mutation.op === "put" && mutation.key.includes("/edit-");
          const committed = editLanded ? lastReturned + 1 : lastReturned;

          const restarted = await run.reopen();
          const recovered = await TableManifest.load(restarted, PREFIX, { snapshotEvery: SNAPSHOT_EVERY });
          if (committed === 0) {
            expect(recovered, where).toBeUndefined();
            continue;
          }
          expect(recovered?.state, where).toEqual(expected[committed]);

          // The recovered table carries on; the next snapshots remove what the crash left behind.
          while (recovered!.version < LAST_VERSION) await recovered!.commit(scriptedEdit(recovered!.state));
          expect(recovered!.state, where).toEqual(expected[LAST_VERSION]);
          await recovered!.snapshot();
          expect(await listManifest(restarted), where).toEqual([snapshotName(LAST_VERSION)]);
        } finally {
          await run.remove();
        }
      }
    }
  });

  it("keeps the previous snapshot and the edits after it until the new snapshot exists", async () => {
    const reference = new CrashingObjectStore(temp.store, Number.POSITIVE_INFINITY, "lost");
    await runScript(reference);
    // Order of object operations around each snapshot: put snapshot, delete covered edits, delete
    // older snapshots - never a delete before the put of the snapshot that covers it.
    const snapshotPuts = new Map<string, number>();
    reference.mutations.forEach((m, i) => {
      if (m.op === "put" && m.key.includes("/snapshot-")) snapshotPuts.set(m.key, i);
    });
    reference.mutations.forEach((m, i) => {
      if (m.op !== "delete") return;
      const version = Number(/-(\d+)\.json$/.exec(m.key)?.[1]);
      const coveringPut = [...snapshotPuts].find(
        ([key, at]) => at < i && Number(/-(\d+)\.json$/.exec(key)?.[1]) >= version,
      );
      expect(coveringPut, `delete of ${m.key} at mutation ${i}`).toBeDefined();
    });
  });
});
