import { afterEach, describe, expect, it } from "vitest";
import { createLogger, exitCodes, runUntilSignal, type ManagedServer } from "../src/index.js";
import { captureLogs } from "./log-capture.js";

/** A server that records calls; `start` fails when given an error. */
function fakeServer(startError?: Error) {
  const calls: string[] = [];
  const server: ManagedServer = {
    start: () => {
      calls.push("start");
      return startError ? Promise.reject(startError) : Promise.resolve();
    },
    stop: () => {
      calls.push("stop");
      return Promise.resolve();
    },
  };
  return { server, calls };
}

const nextTick = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  expect(process.listenerCount("SIGUSR2")).toBe(0);
});

describe("runUntilSignal", () => {
  it("runs until the signal, stops the server and resolves to exit code 0", async () => {
    const { destination, lines } = captureLogs();
    const { server, calls } = fakeServer();
    const exit = runUntilSignal(server, {
      logger: createLogger({ name: "t", level: "info", destination }),
      signals: ["SIGUSR2"],
    });
    await nextTick();
    expect(calls).toEqual(["start"]);
    process.emit("SIGUSR2", "SIGUSR2");
    await expect(exit).resolves.toBe(exitCodes.ok);
    expect(calls).toEqual(["start", "stop"]);
    expect(lines.map((line) => line.msg)).toEqual(["shutting down", "stopped"]);
  });

  it("resolves to exit code 1 with one fatal line when startup fails", async () => {
    const { destination, lines } = captureLogs();
    const { server, calls } = fakeServer(
      new Error("cannot listen for HTTP on 127.0.0.1:5440: address already in use"),
    );
    const exit = runUntilSignal(server, {
      logger: createLogger({ name: "t", level: "info", destination }),
      signals: ["SIGUSR2"],
    });
    await expect(exit).resolves.toBe(exitCodes.failure);
    expect(calls).toEqual(["start"]);
    expect(lines).toEqual([
      expect.objectContaining({
        level: "fatal",
        msg: "startup failed: cannot listen for HTTP on 127.0.0.1:5440: address already in use",
      }),
    ]);
  });
});
