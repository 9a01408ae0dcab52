import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { CallCancellation } from "../../src/server/call-cancellation.js";

describe("CallCancellation", () => {
  it("turns aborted, with a reason, when the call is cancelled before it is answered", () => {
    const call = new EventEmitter();
    const cancellation = new CallCancellation(call);
    expect(cancellation.aborted).toBe(false);
    expect(cancellation.reason).toBeUndefined();
    call.emit("cancelled", "cancelled");
    expect(cancellation.aborted).toBe(true);
    expect(cancellation.reason?.message).toBe("the call was cancelled");
  });

  it("ignores the cancelled notice grpc-js sends after the call was answered", () => {
    const call = new EventEmitter();
    const cancellation = new CallCancellation(call);
    cancellation.settle();
    call.emit("cancelled", "cancelled");
    expect(cancellation.aborted).toBe(false);
    expect(cancellation.reason).toBeUndefined();
    expect(call.listenerCount("cancelled")).toBe(0);
  });
});
