import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ConfigSchemaError,
  configSection,
  formatOptionsHelp,
  formatOptionsMarkdownTable,
  listConfigOptions,
  logConfigSection,
  markdownTableRows,
  serverConfigSection,
} from "../src/index.js";

const definition = {
  schema: z.strictObject({
    server: serverConfigSection({ grpcPort: 8830, httpPort: 8080 }),
    mode: z.enum(["standalone", "cluster"]).default("standalone").describe("Deployment mode."),
    etcd: configSection({
      endpoints: z.array(z.string()).default(["http://127.0.0.1:2379"]).describe("etcd endpoints."),
    }),
    log: logConfigSection(),
  }),
  envPrefix: "TESTMETA",
  flags: { "server.grpc_port": "grpc-port" },
};

describe("listConfigOptions", () => {
  it("lists every option with key, type, default, description, env var and flag", () => {
    const options = listConfigOptions(definition);
    expect(options.map((option) => option.key)).toEqual([
      "server.bind_addr",
      "server.grpc_port",
      "server.http_port",
      "server.shutdown_timeout_ms",
      "mode",
      "etcd.endpoints",
      "log.level",
    ]);
    const grpcPort = options.find((option) => option.key === "server.grpc_port");
    expect(grpcPort).toMatchObject({
      type: "integer 0..65535",
      default: 8830,
      env: "TESTMETA_SERVER__GRPC_PORT",
      flag: "--grpc-port",
    });
    expect(grpcPort?.description).toMatch(/gRPC/);
    expect(options.find((option) => option.key === "mode")).toMatchObject({
      type: "one of: standalone, cluster",
      default: "standalone",
      env: "TESTMETA_MODE",
      flag: undefined,
    });
    expect(options.find((option) => option.key === "etcd.endpoints")).toMatchObject({
      type: "list of strings",
      default: ["http://127.0.0.1:2379"],
    });
    expect(options.find((option) => option.key === "server.shutdown_timeout_ms")?.type).toBe("integer >= 0");
  });

  it("rejects an option without a default", () => {
    const schema = z.strictObject({ name: z.string().describe("A name.") });
    expect(() => listConfigOptions({ schema, envPrefix: "X" })).toThrow(ConfigSchemaError);
    expect(() => listConfigOptions({ schema, envPrefix: "X" })).toThrow(/name: has no default/);
  });

  it("rejects an option without a description", () => {
    const schema = z.strictObject({ name: z.string().default("a") });
    expect(() => listConfigOptions({ schema, envPrefix: "X" })).toThrow(/name: has no description/);
  });

  it("rejects a flag for a key that is not an option", () => {
    const schema = z.strictObject({ name: z.string().default("a").describe("A name.") });
    expect(() => listConfigOptions({ schema, envPrefix: "X", flags: { nmae: "name" } })).toThrow(/nmae/);
  });
});

describe("option formatting", () => {
  it("renders a Markdown row per option with the default as written in a file", () => {
    const table = formatOptionsMarkdownTable(listConfigOptions(definition));
    const lines = table.split("\n");
    expect(lines).toHaveLength(2 + 7);
    expect(lines).toContain(
      "| `server.grpc_port` | `TESTMETA_SERVER__GRPC_PORT` | `--grpc-port` | integer 0..65535 | `8830` | Port of the gRPC server; 0 picks a free port. |",
    );
    expect(table).toContain('| `["http://127.0.0.1:2379"]` |');
    expect(table).toContain('| `"info"` |');
  });

  it("lists every option in the help text", () => {
    const help = formatOptionsHelp(listConfigOptions(definition));
    for (const option of listConfigOptions(definition)) {
      expect(help).toContain(option.key);
      expect(help).toContain(option.env);
    }
    expect(help).toContain("flag --grpc-port");
  });
});

describe("markdownTableRows", () => {
  it("reads back the cells of a rendered table regardless of column padding", () => {
    const table = formatOptionsMarkdownTable(listConfigOptions(definition));
    const padded = table.replaceAll(" | ", "   |   ");
    const rows = markdownTableRows(padded);
    expect(rows).toEqual(markdownTableRows(table));
    expect(rows).toHaveLength(1 + 7);
    expect(rows[0]).toEqual(["Key", "Environment variable", "Flag", "Type", "Default", "Description"]);
    expect(rows).toContainEqual([
      "`mode`",
      "`TESTMETA_MODE`",
      "",
      "one of: standalone, cluster",
      '`"standalone"`',
      "Deployment mode.",
    ]);
  });
});
