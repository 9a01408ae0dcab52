import { StatusCode } from "@horaedb/proto";
import { describe, expect, it } from "vitest";
import {
  ClusterMismatchError,
  ClusterNotReadyError,
  InvalidRequestError,
  NoLeaderError,
  NotLeaderError,
  UnsupportedRequestError,
} from "../../src/index.js";
import {
  ClusterNotFoundError,
  InvalidMetadataRequestError,
  MetadataCorruptionError,
  MetadataTimeoutError,
  MetadataUnavailableError,
  ShardVersionConflictError,
  TableAlreadyExistsError,
  TableNotFoundError,
  type TableRecord,
} from "../../src/metadata/index.js";
import { failureStatus } from "../../src/service/response-status.js";

const TABLE: TableRecord = {
  id: 7,
  name: "cpu",
  schemaId: 1,
  schemaName: "public",
  shardId: 0,
  partitionInfo: null,
  parentTableId: null,
  tableSchema: {},
  options: {},
  createdAtMs: 0,
  createRequestId: "r",
};

describe("failureStatus", () => {
  it.each([
    [new InvalidRequestError("name", "must not be empty"), StatusCode.STATUS_CODE_INVALID_ARGUMENT],
    [new InvalidMetadataRequestError("shardId", "too large"), StatusCode.STATUS_CODE_INVALID_ARGUMENT],
    [new TableNotFoundError("public.cpu"), StatusCode.STATUS_CODE_NOT_FOUND],
    [new TableAlreadyExistsError(TABLE), StatusCode.STATUS_CODE_ALREADY_EXISTS],
    [new ClusterMismatchError("a", "b"), StatusCode.STATUS_CODE_FAILED_PRECONDITION],
    [new UnsupportedRequestError("partitioned tables are"), StatusCode.STATUS_CODE_FAILED_PRECONDITION],
    [new MetadataCorruptionError("/k", "bad"), StatusCode.STATUS_CODE_INTERNAL],
    [new Error("boom"), StatusCode.STATUS_CODE_INTERNAL],
  ])("maps %s to %s", (error, code) => {
    expect(failureStatus(error).code).toBe(code);
  });

  it.each([
    new NotLeaderError("127.0.0.1:1", "term ended"),
    new NoLeaderError("election under way"),
    new ClusterNotReadyError("no shard has a leader yet"),
    new ClusterNotFoundError("/horaedb/c/"),
    new MetadataTimeoutError("read", 5_000),
    new MetadataUnavailableError("read", "connection refused"),
    new ShardVersionConflictError("/k", 1, 2, 3),
  ])("answers %s with UNAVAILABLE and a retry hint", (error) => {
    const status = failureStatus(error);
    expect(status.code).toBe(StatusCode.STATUS_CODE_UNAVAILABLE);
    expect(status.retryAfterMs).toBeGreaterThan(0);
    expect(status.unexpected).toBe(false);
  });

  it("flags only unknown failures as unexpected and keeps their message", () => {
    expect(failureStatus(new Error("boom"))).toMatchObject({ unexpected: true, message: "boom" });
    expect(failureStatus(new TableNotFoundError("public.cpu")).unexpected).toBe(false);
  });
});
