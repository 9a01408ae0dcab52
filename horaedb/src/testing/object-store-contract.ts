import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  InvalidObjectKeyError,
  InvalidRangeError,
  ObjectExistsError,
  ObjectNotFoundError,
} from "../object-store/errors.js";
import type { ObjectMeta, ObjectStore } from "../object-store/object-store.js";

/**
 * The behaviour every ObjectStore must have, as vitest suites. Each implementation's test file calls
 * objectStoreContract with a function opening a fresh, empty store. Only imported by tests.
 */

export interface OpenedObjectStore {
  store: ObjectStore;
  /** Deletes what the suite wrote and closes the store. */
  cleanup(): Promise<void>;
}

export interface ObjectStoreContractOptions {
  /**
   * Whether put with `ifNotExists` refuses to overwrite (default true). Only a store over a server
   * known to ignore the condition (s3proxy ignores `If-None-Match: *`) sets false, which skips the
   * assertions that an existing object is kept.
   */
  readonly enforcesIfNotExists?: boolean;
  /** Objects written to check listing of many keys; above 1000 spans several S3 pages (default 1100). */
  readonly manyObjects?: number;
  /** Size of the large round-trip object (default 12 MiB). */
  readonly largeObjectBytes?: number;
}

const MiB = 1024 * 1024;

export function objectStoreContract(
  name: string,
  open: () => Promise<OpenedObjectStore>,
  options: ObjectStoreContractOptions = {},
): void {
  const enforcesIfNotExists = options.enforcesIfNotExists ?? true;
  const manyObjects = options.manyObjects ?? 1100;
  const largeObjectBytes = options.largeObjectBytes ?? 12 * MiB;

  describe(`ObjectStore contract: ${name}`, () => {
    let opened: OpenedObjectStore | undefined;
    let namespaces = 0;
    const store = (): ObjectStore => {
      if (opened === undefined) throw new Error("store not opened");
      return opened.store;
    };
    /** A key prefix no other test uses, so tests stay independent on a shared store. */
    const namespace = (): string => `contract-${++namespaces}/`;

    beforeAll(async () => {
      opened = await open();
    });
    afterAll(async () => {
      await opened?.cleanup();
    });

    describe("put and get", () => {
      it("round-trips an empty object", async () => {
        const key = `${namespace()}empty`;
        await store().put(key, new Uint8Array(0));
        expect((await store().get(key)).byteLength).toBe(0);
        expect((await store().head(key))?.size).toBe(0);
      });

      it("round-trips a 1-byte object", async () => {
        const key = `${namespace()}one`;
        await store().put(key, Uint8Array.of(0xa5));
        expect(Array.from(await store().get(key))).toEqual([0xa5]);
      });

      it(`round-trips a ${(largeObjectBytes / MiB).toFixed(1)} MiB object and reads ranges of it`, async () => {
        const key = `${namespace()}large.bin`;
        const data = randomData(largeObjectBytes);
        await store().put(key, data);
        expectSameBytes(await store().get(key), data);
        expect((await store().head(key))?.size).toBe(largeObjectBytes);
        const middle = Math.floor(largeObjectBytes / 2);
        expectSameBytes(
          await store().getRange(key, middle - 1000, middle + 1000),
          data.subarray(middle - 1000, middle + 1000),
        );
      }, 120_000);

      it("stores exactly the bytes of a view into a larger buffer", async () => {
        const key = `${namespace()}view`;
        const backing = randomData(300);
        const view = backing.subarray(100, 200);
        await store().put(key, view);
        expectSameBytes(await store().get(key), view);
      });

      it("overwrites an object, and a later get sees only the new bytes", async () => {
        const key = `${namespace()}overwritten`;
        await store().put(key, bytesOf("the first version, which is longer"));
        await store().put(key, bytesOf("second"));
        expect(textOf(await store().get(key))).toBe("second");
        expect((await store().head(key))?.size).toBe(6);
      });

      it("round-trips keys with spaces and non-ASCII characters", async () => {
        const prefix = namespace();
        const key = `${prefix}dir with spaces/файл ü 数据 🚀.parquet`;
        await store().put(key, bytesOf("unicode"));
        expect(textOf(await store().get(key))).toBe("unicode");
        expect(textOf(await store().getRange(key, 1, 4))).toBe("nic");
        expect((await store().head(key))?.key).toBe(key);
        expect(await listKeys(store(), prefix)).toEqual([key]);
        await store().delete(key);
        expect(await store().head(key)).toBeUndefined();
      });
    });

    describe("missing objects", () => {
      it("get and getRange of a missing key throw ObjectNotFoundError naming the key", async () => {
        const key = `${namespace()}never-written`;
        for (const read of [
          () => store().get(key),
          () => store().getRange(key, 0, 10),
          () => store().getRange(key, 0, 0),
        ]) {
          const error = await failureOf(read());
          expect(error).toBeInstanceOf(ObjectNotFoundError);
          expect((error as ObjectNotFoundError).key).toBe(key);
          expect((error as Error).message).toContain(key);
        }
      });

      it("head of a missing key is undefined", async () => {
        expect(await store().head(`${namespace()}never-written`)).toBeUndefined();
      });
    });

    describe("getRange", () => {
      // Behaviour (byte-range.ts): end is clamped to the size, start == size gives no bytes,
      // start > size and malformed bounds throw InvalidRangeError.
      const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
      let key: string;
      beforeAll(async () => {
        key = `${namespace()}ranged`;
        await store().put(key, data);
      });

      it("reads the start, the middle, the end and the whole of an object", async () => {
        expectSameBytes(await store().getRange(key, 0, 10), data.subarray(0, 10));
        expectSameBytes(await store().getRange(key, 400, 600), data.subarray(400, 600));
        expectSameBytes(await store().getRange(key, 990, 1000), data.subarray(990, 1000));
        expectSameBytes(await store().getRange(key, 0, 1000), data);
        expectSameBytes(await store().getRange(key, 999, 1000), data.subarray(999));
      });

      it("clamps an end past the object to its size", async () => {
        expectSameBytes(await store().getRange(key, 990, 5000), data.subarray(990));
        expectSameBytes(await store().getRange(key, 0, Number.MAX_SAFE_INTEGER), data);
      });

      it("returns no bytes for an empty range or a range starting at the end", async () => {
        expect((await store().getRange(key, 500, 500)).byteLength).toBe(0);
        expect((await store().getRange(key, 1000, 1000)).byteLength).toBe(0);
        expect((await store().getRange(key, 1000, 1010)).byteLength).toBe(0);
      });

      it("rejects a range starting past the end with InvalidRangeError carrying the size", async () => {
        const error = await failureOf(store().getRange(key, 1001, 1010));
        expect(error).toBeInstanceOf(InvalidRangeError);
        expect((error as InvalidRangeError).size).toBe(1000);
      });

      it("rejects negative, reversed and fractional bounds with InvalidRangeError", async () => {
        for (const [start, end] of [
          [-1, 10],
          [20, 10],
          [0.5, 10],
          [0, Number.NaN],
          [0, Number.POSITIVE_INFINITY],
        ] as const) {
          expect(await failureOf(store().getRange(key, start, end))).toBeInstanceOf(InvalidRangeError);
        }
      });

      it("reads every range of a small object like slice does", async () => {
        const small = `${namespace()}small`;
        const bytes = Uint8Array.of(1, 2, 3, 4, 5);
        await store().put(small, bytes);
        const reads: Promise<void>[] = [];
        for (let start = 0; start <= bytes.length; start++) {
          for (let end = start; end <= bytes.length + 1; end++) {
            reads.push(
              store()
                .getRange(small, start, end)
                .then((got) =>
                  expect(Array.from(got), `[${start}, ${end})`).toEqual(Array.from(bytes.slice(start, end))),
                ),
            );
          }
        }
        await Promise.all(reads);
      });

      it("reads ranges of an empty object only at offset 0", async () => {
        const empty = `${namespace()}empty`;
        await store().put(empty, new Uint8Array(0));
        expect((await store().getRange(empty, 0, 0)).byteLength).toBe(0);
        expect((await store().getRange(empty, 0, 100)).byteLength).toBe(0);
        expect(await failureOf(store().getRange(empty, 1, 2))).toBeInstanceOf(InvalidRangeError);
      });
    });

    describe("head", () => {
      it("reports the key, size and a current modification time", async () => {
        const key = `${namespace()}headed`;
        await store().put(key, randomData(1234));
        const meta = await store().head(key);
        expect(meta?.key).toBe(key);
        expect(meta?.size).toBe(1234);
        // S3 keeps whole seconds; a minute's slack also covers a server clock a little off.
        expect(Math.abs((meta?.lastModified ?? 0) - Date.now())).toBeLessThan(60_000);
      });
    });

    describe("list", () => {
      it("lists exactly the keys starting with the prefix, in byte order, with sizes", async () => {
        const ns = namespace();
        // `.` (0x2e) and `-` (0x2d) sort before `/` (0x2f): a directory walk must not list `a/b/*`
        // before `a/b.x`. The local store cannot hold both `a/b` and `a/b/c`, so neither does this.
        const relative = ["a/b/c", "a/b/d", "a/bc", "a/b.x", "a/b-y", "a/a", "a.b", "ab", "b", "a/b/e/f"];
        await Promise.all(relative.map((key, i) => store().put(`${ns}${key}`, new Uint8Array(i))));

        const listed = async (prefix: string) =>
          (await listKeys(store(), `${ns}${prefix}`)).map((key) => key.slice(ns.length));
        expect(await listed("")).toEqual([
          "a.b",
          "a/a",
          "a/b-y",
          "a/b.x",
          "a/b/c",
          "a/b/d",
          "a/b/e/f",
          "a/bc",
          "ab",
          "b",
        ]);
        expect(await listed("a/b")).toEqual(["a/b-y", "a/b.x", "a/b/c", "a/b/d", "a/b/e/f", "a/bc"]);
        expect(await listed("a/b/")).toEqual(["a/b/c", "a/b/d", "a/b/e/f"]);
        expect(await listed("a/bc")).toEqual(["a/bc"]);
        expect(await listed("a")).toEqual([
          "a.b",
          "a/a",
          "a/b-y",
          "a/b.x",
          "a/b/c",
          "a/b/d",
          "a/b/e/f",
          "a/bc",
          "ab",
        ]);
        expect(await listed("a/bz")).toEqual([]);
        expect(await listed("zz/")).toEqual([]);

        const metas = await collect(store().list(`${ns}a/b/`));
        expect(metas.map((meta) => meta.size)).toEqual([0, 1, 9]);
        for (const meta of metas) expect(Math.abs(meta.lastModified - Date.now())).toBeLessThan(60_000);
      });

      it("orders non-ASCII keys by their UTF-8 bytes", async () => {
        const ns = namespace();
        // Sorted by UTF-8 bytes; "Z" < "z" < "é" (c3 a9) < "中" (e4 b8 ad).
        const relative = ["中", "é", "z", "Z", "a b", "a"];
        await Promise.all(relative.map((key) => store().put(`${ns}${key}`, bytesOf(key))));
        expect((await listKeys(store(), ns)).map((key) => key.slice(ns.length))).toEqual([
          "Z",
          "a",
          "a b",
          "z",
          "é",
          "中",
        ]);
      });

      it(`lists ${manyObjects} objects under one prefix, each once and in order`, async () => {
        const ns = namespace();
        const keys = Array.from({ length: manyObjects }, (_, i) => `${ns}many/${String(i).padStart(5, "0")}`);
        await forEachLimited(keys, 16, (key) => store().put(key, bytesOf(key)));
        await store().put(`${ns}many-sibling`, bytesOf("outside the prefix"));
        expect(await listKeys(store(), `${ns}many/`)).toEqual(keys);
      }, 300_000);

      it("can stop early and start again", async () => {
        const ns = namespace();
        await Promise.all(["1", "2", "3"].map((key) => store().put(`${ns}${key}`, bytesOf(key))));
        for await (const meta of store().list(ns)) {
          expect(meta.key).toBe(`${ns}1`);
          break;
        }
        expect(await listKeys(store(), ns)).toEqual([`${ns}1`, `${ns}2`, `${ns}3`]);
      });
    });

    describe("delete", () => {
      it("removes the object from get, head and list", async () => {
        const ns = namespace();
        await store().put(`${ns}gone`, bytesOf("bye"));
        await store().put(`${ns}kept`, bytesOf("stay"));
        await store().delete(`${ns}gone`);
        expect(await failureOf(store().get(`${ns}gone`))).toBeInstanceOf(ObjectNotFoundError);
        expect(await store().head(`${ns}gone`)).toBeUndefined();
        expect(await listKeys(store(), ns)).toEqual([`${ns}kept`]);
      });

      it("is idempotent and accepts keys that never existed", async () => {
        const key = `${namespace()}twice`;
        await store().put(key, bytesOf("x"));
        await store().delete(key);
        await store().delete(key);
        await store().delete(`${namespace()}never/written`);
        expect(await store().head(key)).toBeUndefined();
      });
    });

    describe("put with ifNotExists", () => {
      it("creates an absent object, also again after a delete", async () => {
        const key = `${namespace()}created`;
        await store().put(key, bytesOf("first"), { ifNotExists: true });
        expect(textOf(await store().get(key))).toBe("first");
        await store().delete(key);
        await store().put(key, bytesOf("again"), { ifNotExists: true });
        expect(textOf(await store().get(key))).toBe("again");
      });

      it("creates an absent large object", async () => {
        const key = `${namespace()}created-large`;
        const data = randomData(largeObjectBytes);
        await store().put(key, data, { ifNotExists: true });
        expectSameBytes(await store().get(key), data);
      }, 120_000);

      it.skipIf(!enforcesIfNotExists)(
        "refuses to overwrite with ObjectExistsError and keeps the existing object",
        async () => {
          const key = `${namespace()}kept`;
          await store().put(key, bytesOf("original"));
          const error = await failureOf(store().put(key, bytesOf("intruder"), { ifNotExists: true }));
          expect(error).toBeInstanceOf(ObjectExistsError);
          expect((error as ObjectExistsError).key).toBe(key);
          expect(textOf(await store().get(key))).toBe("original");
        },
      );

      it.skipIf(!enforcesIfNotExists)("lets exactly one of several racing creators win", async () => {
        const key = `${namespace()}raced`;
        const outcomes = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            store().put(key, bytesOf(`writer ${i}`), { ifNotExists: true }),
          ),
        );
        const winners = outcomes.flatMap((outcome, i) => (outcome.status === "fulfilled" ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(ObjectExistsError);
        }
        expect(textOf(await store().get(key))).toBe(`writer ${winners[0]}`);
      });
    });

    describe("key validation", () => {
      const invalidKeys = [
        "",
        "/abs",
        "a//b",
        "a/",
        "a/../b",
        "..",
        "a/./b",
        "a\\b",
        "nul\u0000",
        `${"x".repeat(256)}/y`,
      ];

      it("rejects malformed keys with InvalidObjectKeyError in every operation", async () => {
        for (const key of invalidKeys) {
          const operations = [
            () => store().put(key, bytesOf("x")),
            () => store().get(key),
            () => store().getRange(key, 0, 1),
            () => store().head(key),
            () => store().delete(key),
          ];
          for (const operation of operations) {
            const error = await failureOf(operation());
            expect(error, JSON.stringify(key)).toBeInstanceOf(InvalidObjectKeyError);
            expect((error as InvalidObjectKeyError).key).toBe(key);
          }
        }
      });

      it("rejects malformed list prefixes with InvalidObjectKeyError", async () => {
        for (const prefix of ["/abs", "a//", "a/../", "a\\b"]) {
          expect(await failureOf(collect(store().list(prefix))), prefix).toBeInstanceOf(
            InvalidObjectKeyError,
          );
        }
      });
    });
  });
}

function randomData(size: number): Uint8Array {
  const buffer = randomBytes(size);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function textOf(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Compares through Buffer.equals: element-wise matchers are slow on megabytes. */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)).toBe(true);
}

async function collect(metas: AsyncIterable<ObjectMeta>): Promise<ObjectMeta[]> {
  const all: ObjectMeta[] = [];
  for await (const meta of metas) all.push(meta);
  return all;
}

async function listKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await collect(store.list(prefix))).map((meta) => meta.key);
}

async function failureOf(operation: Promise<unknown>): Promise<unknown> {
  try {
    await operation;
  } catch (error) {
    return error;
  }
  throw new Error("expected the operation to fail");
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
