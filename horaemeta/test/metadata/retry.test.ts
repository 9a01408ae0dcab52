import { describe, expect, it } from "vitest";
import {
  MetadataConflictError,
  retryOnConflict,
  ShardVersionConflictError,
  TableNotFoundError,
} from "../../src/metadata/index.js";

describe("retryOnConflict", () => {
  it("calls again after a conflict and returns the first success", async () => {
    let calls = 0;
    const result = await retryOnConflict(() => {
      calls++;
      if (calls < 3) return Promise.reject(new ShardVersionConflictError("k", 1, 4, 5));
      return Promise.resolve("done");
    });
    expect(result).toBe("done");
    expect(calls).toBe(3);
  });

  it("throws the last conflict once the attempts are used up", async () => {
    let calls = 0;
    const error = await retryOnConflict(
      () => {
        calls++;
        return Promise.reject(new MetadataConflictError("k", `attempt ${calls}`));
      },
      { attempts: 4, backoffMs: 1 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataConflictError);
    expect((error as Error).message).toContain("attempt 4");
    expect(calls).toBe(4);
  });

  it("does not retry other errors", async () => {
    let calls = 0;
    const error = await retryOnConflict(() => {
      calls++;
      return Promise.reject(new TableNotFoundError("public.cpu"));
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TableNotFoundError);
    expect(calls).toBe(1);
  });
});
