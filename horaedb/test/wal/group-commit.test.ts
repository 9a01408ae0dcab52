import { describe, expect, it } from "vitest";
import { GroupCommitQueue } from "../../src/wal/local/group-commit.js";

function recordingQueue(options: { maxGroupBytes?: number; maxGroupItems?: number; failOn?: string } = {}) {
  const groups: string[][] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const queue = new GroupCommitQueue<string>({
    commit: async (group) => {
      groups.push([...group]);
      if (hold) await new Promise<void>((resolve) => (release = resolve));
      if (options.failOn !== undefined && group.includes(options.failOn))
        throw new Error(`failed ${options.failOn}`);
    },
    bytesOf: (item) => item.length,
    maxGroupBytes: options.maxGroupBytes ?? 1000,
    maxGroupItems: options.maxGroupItems ?? 1000,
  });
  return {
    queue,
    groups,
    holdCommits: () => {
      hold = true;
    },
    releaseCommit: () => {
      hold = false;
      release?.();
    },
  };
}

/** Resolves to "timeout" if `promise` has not settled within a few event-loop turns. */
async function settlesSoon(promise: Promise<unknown>): Promise<string> {
  return Promise.race([
    promise.then(() => "settled"),
    new Promise<string>((resolve) => setTimeout(() => resolve("timeout"), 200)),
  ]);
}

describe("GroupCommitQueue", () => {
  it("commits items enqueued in the same tick as one group", async () => {
    const { queue, groups } = recordingQueue();
    await Promise.all(["a", "b", "c"].map((item) => queue.enqueue(item)));
    expect(groups).toEqual([["a", "b", "c"]]);
  });

  it("items enqueued while a commit runs wait and form the next group together", async () => {
    const { queue, groups, holdCommits, releaseCommit } = recordingQueue();
    holdCommits();
    const first = queue.enqueue("a");
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = ["b", "c", "d"].map((item) => queue.enqueue(item));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(groups).toEqual([["a"]]);
    releaseCommit();
    await Promise.all([first, ...later]);
    expect(groups).toEqual([["a"], ["b", "c", "d"]]);
  });

  it("commits an item enqueued just as the previous group's commit completes", async () => {
    const { queue, groups } = recordingQueue();
    // Enqueued from the first item's resolution: the drain loop is finishing at that moment.
    const second = queue.enqueue("a").then(() => queue.enqueue("b"));
    expect(await settlesSoon(second)).toBe("settled");
    const third = Promise.resolve()
      .then(() => queue.enqueue("c"))
      .then(() => Promise.resolve())
      .then(() => queue.enqueue("d"));
    expect(await settlesSoon(third)).toBe("settled");
    expect(groups.flat()).toEqual(["a", "b", "c", "d"]);
  });

  it("splits groups at the byte and item limits, keeping order", async () => {
    const { queue, groups } = recordingQueue({ maxGroupBytes: 5, maxGroupItems: 3 });
    await Promise.all(
      ["aa", "bb", "cc", "d", "e", "f", "g", "hhhhhhh", "i"].map((item) => queue.enqueue(item)),
    );
    expect(groups).toEqual([["aa", "bb"], ["cc", "d", "e"], ["f", "g"], ["hhhhhhh"], ["i"]]);
  });

  it("a failed commit rejects only the items of its group", async () => {
    const { queue, groups } = recordingQueue({ maxGroupItems: 2, failOn: "c" });
    const results = await Promise.allSettled(["a", "b", "c", "d", "e"].map((item) => queue.enqueue(item)));
    expect(groups).toEqual([["a", "b"], ["c", "d"], ["e"]]);
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "rejected",
      "rejected",
      "fulfilled",
    ]);
  });

  it("whenIdle waits for queued items", async () => {
    const { queue, groups } = recordingQueue({ maxGroupItems: 1 });
    void queue.enqueue("a");
    void queue.enqueue("b");
    await queue.whenIdle();
    expect(groups).toEqual([["a"], ["b"]]);
  });
});
