import { describe, expect, it } from "vitest";

import { RETRYABLE_STATUS_CODES, StatusCode, isRetryableStatus, loadStorageProto } from "../src/index.js";

/** The value list of an enum as the runtime loader parsed it from the .proto file. */
function protoEnumValues(): { name: string; number: number }[] {
  // EnumTypeDefinition.type is an EnumDescriptorProto in object form.
  const descriptor = loadStorageProto().horaedb.common.v1.StatusCode.type as {
    value: { name: string; number: number }[];
  };
  return descriptor.value.map(({ name, number }) => ({ name, number }));
}

describe("StatusCode", () => {
  it("mirrors the proto enum: same names in the same order, each key mapping to its wire name", () => {
    const names = protoEnumValues().map((value) => value.name);
    expect(Object.keys(StatusCode)).toStrictEqual(names);
    for (const [key, value] of Object.entries(StatusCode)) expect(value).toBe(key);
  });

  it("numbers the codes as the contract documents them", () => {
    expect(protoEnumValues()).toStrictEqual(
      [
        "STATUS_CODE_OK",
        "STATUS_CODE_INVALID_ARGUMENT",
        "STATUS_CODE_NOT_FOUND",
        "STATUS_CODE_ALREADY_EXISTS",
        "STATUS_CODE_ROUTE_STALE",
        "STATUS_CODE_VERSION_MISMATCH",
        "STATUS_CODE_RESOURCE_EXHAUSTED",
        "STATUS_CODE_UNAVAILABLE",
        "STATUS_CODE_DEADLINE_EXCEEDED",
        "STATUS_CODE_CANCELLED",
        "STATUS_CODE_FAILED_PRECONDITION",
        "STATUS_CODE_UNIMPLEMENTED",
        "STATUS_CODE_INTERNAL",
      ].map((name, number) => ({ name, number })),
    );
  });
});

describe("isRetryableStatus", () => {
  it("is true for RESOURCE_EXHAUSTED, UNAVAILABLE and ROUTE_STALE only", () => {
    const retryable = Object.values(StatusCode).filter((code) => isRetryableStatus(code));
    expect(retryable.sort()).toStrictEqual([
      "STATUS_CODE_RESOURCE_EXHAUSTED",
      "STATUS_CODE_ROUTE_STALE",
      "STATUS_CODE_UNAVAILABLE",
    ]);
    expect([...RETRYABLE_STATUS_CODES].sort()).toStrictEqual(retryable);
  });

  it("is false for an absent code and for a code this build does not know", () => {
    expect(isRetryableStatus(undefined)).toBe(false);
    expect(isRetryableStatus(null)).toBe(false);
    // A newer server's code decodes as a name (or number) outside the StatusCode union.
    expect(isRetryableStatus("STATUS_CODE_FROM_THE_FUTURE" as StatusCode)).toBe(false);
  });
});
