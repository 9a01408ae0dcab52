#!/usr/bin/env node
/**
 * `horaectl`: the operator's command line over horaemeta's HTTP admin API. Tables for people,
 * `--json` for scripts. Reads go to the first endpoint that answers; changes go to the leader (a
 * replica that does not lead answers 503, and the next endpoint is tried). Exit codes: 0 done, 1 the
 * cluster refused or failed (the message says why), 2 bad usage, 3 no endpoint reachable.
 */
import { Command, Option } from "commander";
import { formatTable, type TableColumn } from "./cli/table-format.js";

const exitCodes = { ok: 0, refused: 1, usage: 2, unreachable: 3 } as const;

class CommandFailure extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

interface GlobalOptions {
  readonly endpoints: string;
  readonly json: boolean;
  readonly timeoutMs: string;
}

type Body = Record<string, unknown>;

async function call(
  options: GlobalOptions,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<Body> {
  const endpoints = options.endpoints
    .split(",")
    .map((endpoint) => endpoint.trim())
    .filter(Boolean);
  const failures: string[] = [];
  for (const endpoint of endpoints) {
    const base = endpoint.includes("://") ? endpoint : `http://${endpoint}`;
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        signal: AbortSignal.timeout(Number(options.timeoutMs)),
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
      });
    } catch (error) {
      failures.push(`${endpoint}: ${(error as Error).message}`);
      continue;
    }
    const parsed = (await response.json().catch(() => ({}))) as Body;
    // A replica that does not lead: the next endpoint may be the leader.
    if (response.status === 503 && method === "POST" && "leader" in parsed) {
      const leader = typeof parsed.leader === "string" ? parsed.leader : "unknown";
      failures.push(`${endpoint}: not the leader (leader: ${leader})`);
      continue;
    }
    if (!response.ok) {
      const reason = typeof parsed.error === "string" ? parsed.error : response.statusText;
      const violations = Array.isArray(parsed.violations) ? `: ${parsed.violations.join("; ")}` : "";
      throw new CommandFailure(`${response.status} ${reason}${violations}`, exitCodes.refused);
    }
    return parsed;
  }
  throw new CommandFailure(
    `no horaemeta endpoint could do it: ${failures.join("; ")}`,
    exitCodes.unreachable,
  );
}

function print(options: GlobalOptions, body: Body, human: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(body, null, 2)}\n` : `${human()}\n`);
}

const time = (ms: unknown) => (typeof ms === "number" && ms > 0 ? new Date(ms).toISOString() : "-");
const list = (values: unknown) => (Array.isArray(values) && values.length > 0 ? values.join(",") : "-");

interface ProcedureBody {
  id: number;
  kind: string;
  state: string;
  shardIds: number[];
  updatedAtMs: number;
  history: { state: string; atMs: number; detail?: string }[];
}

const procedureColumns: TableColumn<ProcedureBody>[] = [
  { title: "ID", value: (p) => p.id },
  { title: "KIND", value: (p) => p.kind },
  { title: "STATE", value: (p) => p.state },
  { title: "SHARDS", value: (p) => list(p.shardIds) },
  { title: "UPDATED", value: (p) => time(p.updatedAtMs) },
  {
    title: "LAST DETAIL",
    value: (p) => p.history.findLast((entry) => entry.detail !== undefined)?.detail ?? "",
  },
];

function procedureResult(options: GlobalOptions, body: Body): void {
  const procedure = body.procedure as ProcedureBody;
  print(options, body, () =>
    [
      `procedure ${procedure.id} (${procedure.kind}) ${procedure.state}`,
      ...procedure.history.map(
        (entry) =>
          `  ${time(entry.atMs)}  ${entry.state}${entry.detail === undefined ? "" : `  ${entry.detail}`}`,
      ),
    ].join("\n"),
  );
}

function parseId(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CommandFailure(
      `${name} must be a non-negative integer, got ${JSON.stringify(text)}`,
      exitCodes.usage,
    );
  }
  return value;
}

export function buildProgram(): Command {
  const program = new Command("horaectl")
    .description("Inspect and operate a HoraeDB cluster through horaemeta's admin API.")
    .addOption(
      new Option("--endpoints <list>", "horaemeta HTTP endpoints, comma separated")
        .env("HORAECTL_ENDPOINTS")
        .default("127.0.0.1:8080"),
    )
    .option("--json", "print the API's JSON instead of tables", false)
    .option("--timeout-ms <ms>", "deadline of each request", "30000");
  const global = () => program.opts<GlobalOptions>();

  program
    .command("cluster")
    .description("settings, state, topology version and whether the schedulers run")
    .action(async () => {
      const body = await call(global(), "GET", "/api/v1/cluster");
      const settings = body.settings as Record<string, unknown>;
      const schedule = body.schedule as { enabled: boolean; reason: string };
      print(global(), body, () =>
        formatTable(
          [
            ["name", settings.name],
            ["state", body.state],
            ["topology version", body.topologyVersion],
            ["shards", body.shardCount],
            ["followers per shard", settings.followersPerShard],
            ["topology", settings.topologyType],
            [
              "schedulers",
              schedule.enabled ? "running" : `paused${schedule.reason ? ` (${schedule.reason})` : ""}`,
            ],
          ],
          [
            { title: "SETTING", value: (row) => String(row[0]) },
            { title: "VALUE", value: (row) => String(row[1]) },
          ],
        ),
      );
    });

  program
    .command("nodes")
    .description("nodes with their state, lease and shards")
    .action(async () => {
      const body = await call(global(), "GET", "/api/v1/nodes");
      type Node = {
        name: string;
        state: string;
        zone: string;
        leaseDeadlineMs: number;
        leading: number[];
        following: number[];
      };
      print(global(), body, () =>
        formatTable(body.nodes as Node[], [
          { title: "NODE", value: (n) => n.name },
          { title: "STATE", value: (n) => n.state },
          { title: "ZONE", value: (n) => n.zone || "-" },
          { title: "LEASE UNTIL", value: (n) => time(n.leaseDeadlineMs) },
          { title: "LEADS", value: (n) => list(n.leading) },
          { title: "FOLLOWS", value: (n) => list(n.following) },
        ]),
      );
    });

  program
    .command("shards")
    .description("shards with leader, followers, version, tables and the procedure holding them")
    .action(async () => {
      const body = await call(global(), "GET", "/api/v1/shards");
      type Shard = {
        id: number;
        leader: string | null;
        followers: string[];
        version: number;
        tables: { id: number; name: string | null }[];
        procedure: { id: number; kind: string } | null;
      };
      print(global(), body, () =>
        formatTable(body.shards as Shard[], [
          { title: "SHARD", value: (s) => s.id },
          { title: "LEADER", value: (s) => s.leader ?? "-" },
          { title: "FOLLOWERS", value: (s) => list(s.followers) },
          { title: "VERSION", value: (s) => s.version },
          { title: "TABLES", value: (s) => s.tables.length },
          {
            title: "PROCEDURE",
            value: (s) => (s.procedure === null ? "-" : `${s.procedure.kind} ${s.procedure.id}`),
          },
        ]),
      );
    });

  program
    .command("tables")
    .description("tables with their shard and partitioning")
    .action(async () => {
      const body = await call(global(), "GET", "/api/v1/tables");
      type Table = {
        id: number;
        schema: string;
        name: string;
        shardId: number | null;
        partitionInfo?: { keyColumns: string[]; partitionCount: number } | null;
        parentTableId?: number | null;
      };
      print(global(), body, () =>
        formatTable(body.tables as Table[], [
          { title: "ID", value: (t) => t.id },
          { title: "SCHEMA", value: (t) => t.schema },
          { title: "TABLE", value: (t) => t.name },
          { title: "SHARD", value: (t) => t.shardId ?? "-" },
          {
            title: "PARTITIONING",
            value: (t) =>
              t.partitionInfo !== null && t.partitionInfo !== undefined
                ? `KEY(${t.partitionInfo.keyColumns.join(", ")}) PARTITIONS ${t.partitionInfo.partitionCount}`
                : t.parentTableId !== null && t.parentTableId !== undefined
                  ? `sub-table of ${t.parentTableId}`
                  : "-",
          },
        ]),
      );
    });

  program
    .command("procedures")
    .description("unfinished procedures (--all: with the ended ones kept), or one with its history")
    .argument("[id]", "show this procedure's history")
    .option("--all", "include ended procedures", false)
    .action(async (id: string | undefined, options: { all: boolean }) => {
      const all = options.all || id !== undefined;
      const body = await call(global(), "GET", `/api/v1/procedures${all ? "?all=1" : ""}`);
      const procedures = body.procedures as ProcedureBody[];
      if (id === undefined) {
        print(global(), body, () => formatTable(procedures, procedureColumns));
        return;
      }
      const procedure = procedures.find((p) => p.id === parseId("id", id));
      if (procedure === undefined) throw new CommandFailure(`procedure ${id} is not kept`, exitCodes.refused);
      procedureResult(global(), { procedure });
    });

  program
    .command("check")
    .description("check the invariants of the cluster mapping")
    .action(async () => {
      const body = await call(global(), "GET", "/api/v1/check").catch((error: unknown) => {
        throw error instanceof CommandFailure
          ? new CommandFailure(`invariants violated: ${error.message}`, error.exitCode)
          : error;
      });
      print(global(), body, () => "every invariant holds");
    });

  program
    .command("transfer-leader")
    .description("move a shard's leadership to another node (a follower's: a role switch)")
    .argument("<shard>", "shard id")
    .argument("<node>", "host:port of the new leader")
    .action(async (shard: string, node: string) => {
      procedureResult(
        global(),
        await call(global(), "POST", `/api/v1/shards/${parseId("shard", shard)}/transfer-leader`, {
          to: node,
        }),
      );
    });

  program
    .command("split")
    .description("move tables of a shard into a new shard on the same nodes")
    .argument("<shard>", "shard id")
    .argument("<tables...>", "ids of the tables to move")
    .action(async (shard: string, tables: string[]) => {
      procedureResult(
        global(),
        await call(global(), "POST", `/api/v1/shards/${parseId("shard", shard)}/split`, {
          tableIds: tables.map((table) => parseId("table", table)),
        }),
      );
    });

  program
    .command("merge")
    .description("move every table of the source shards into the target shard and delete the sources")
    .argument("<target>", "target shard id")
    .argument("<sources...>", "source shard ids")
    .action(async (target: string, sources: string[]) => {
      procedureResult(
        global(),
        await call(global(), "POST", "/api/v1/shards/merge", {
          targetShardId: parseId("target", target),
          sourceShardIds: sources.map((source) => parseId("source", source)),
        }),
      );
    });

  program
    .command("schedule")
    .description("pause or resume the schedulers (failover, reopen, rebalance)")
    .argument("<action>", "pause or resume")
    .option("--reason <text>", "why, shown by `horaectl cluster`", "")
    .action(async (action: string, options: { reason: string }) => {
      if (action !== "pause" && action !== "resume") {
        throw new CommandFailure(
          `action must be pause or resume, got ${JSON.stringify(action)}`,
          exitCodes.usage,
        );
      }
      const body = await call(global(), "POST", "/api/v1/schedule", {
        enabled: action === "resume",
        reason: options.reason,
      });
      print(global(), body, () => `schedulers ${action === "pause" ? "paused" : "running"}`);
    });

  return program;
}

export async function runHoraectl(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: (text) => process.stderr.write(text) });
  try {
    await program.parseAsync([...argv]);
    return exitCodes.ok;
  } catch (error) {
    const commanderCode = (error as { code?: string; exitCode?: number }).code;
    if (commanderCode?.startsWith("commander.") === true) {
      const exitCode = (error as { exitCode: number }).exitCode;
      return exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    process.stderr.write(`horaectl: ${(error as Error).message}\n`);
    return error instanceof CommandFailure ? error.exitCode : exitCodes.refused;
  }
}

process.exitCode = await runHoraectl(process.argv);
