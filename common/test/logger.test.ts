import { describe, expect, it } from "vitest";
import { componentLogger, createLogger } from "../src/index.js";
import { captureLogs } from "./log-capture.js";

describe("createLogger", () => {
  it("writes JSON lines with the level name, process name and component", () => {
    const { destination, lines } = captureLogs();
    const logger = createLogger({ name: "horaedb", level: "info", destination });
    componentLogger(logger, "wal").info({ shard: 3 }, "opened");
    expect(lines).toEqual([
      expect.objectContaining({ level: "info", name: "horaedb", component: "wal", shard: 3, msg: "opened" }),
    ]);
    expect(typeof lines[0]?.time).toBe("string");
  });

  it("drops lines below the configured level", () => {
    const { destination, lines } = captureLogs();
    const logger = createLogger({ name: "horaedb", level: "warn", destination });
    logger.info("hidden");
    logger.warn("shown");
    expect(lines.map((line) => line.msg)).toEqual(["shown"]);
  });
});
