import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import type { z } from "zod";
import { ConfigError, type ConfigSource } from "./config-error.js";
import { formatConfigValue } from "./format.js";
import { collectConfigLeaves, type ConfigDefinition, type ConfigLeaf, type ConfigSchema } from "./options.js";
import { parseOptionString } from "./option-string.js";

/** The sources a configuration is assembled from, lowest precedence first (after schema defaults). */
export interface ConfigSources {
  /** Path of a `.toml` or `.json` config file. */
  readonly file?: string;
  /** Environment to read `<PREFIX>_...` variables from, usually `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Command-line flag values keyed by dotted option key; undefined entries are ignored. */
  readonly flags?: Readonly<Record<string, string | undefined>>;
}

export interface LoadedConfig<T> {
  readonly config: T;
  /** Non-fatal findings worth logging, e.g. an unknown `HORAEDB_...` environment variable. */
  readonly warnings: readonly string[];
}

/**
 * Builds a configuration from schema defaults < config file < environment variables < flags.
 * Every value is validated against its option's schema in the source it came from, so a bad value
 * yields a ConfigError naming that file, variable or flag.
 */
export function loadConfig<S extends ConfigSchema>(
  definition: ConfigDefinition<S>,
  sources: ConfigSources,
): LoadedConfig<z.output<S>> {
  const leaves = collectConfigLeaves(definition);
  const index = indexLeaves(leaves);
  const merged: Record<string, unknown> = {};
  const warnings: string[] = [];

  if (sources.file !== undefined) {
    const source: ConfigSource = { kind: "file", path: sources.file };
    const tree = readConfigFile(sources.file);
    checkTree(tree, [], index, source);
    mergeInto(merged, tree);
  }

  for (const [variable, raw] of Object.entries(sources.env ?? {})) {
    if (raw === undefined || !variable.startsWith(`${definition.envPrefix}_`)) continue;
    const leaf = index.byEnv.get(variable);
    if (leaf === undefined) {
      warnings.push(`ignoring environment variable ${variable}: it does not name a configuration option`);
      continue;
    }
    const source: ConfigSource = { kind: "env", variable };
    setAt(merged, leaf.path, readOptionString(leaf, raw, source));
  }

  for (const [key, raw] of Object.entries(sources.flags ?? {})) {
    if (raw === undefined) continue;
    const leaf = index.byKey.get(key);
    if (leaf === undefined) {
      throw new ConfigError({ kind: "flag", flag: key }, key, "is not a configuration option");
    }
    const source: ConfigSource = { kind: "flag", flag: leaf.flag ?? key };
    setAt(merged, leaf.path, readOptionString(leaf, raw, source));
  }

  return { config: parseConfig(definition, merged), warnings };
}

/**
 * Validates an assembled configuration object and fills in defaults. Used by `loadConfig` and by
 * programs that construct a server directly (tests, embedding).
 */
export function parseConfig<S extends ConfigSchema>(
  definition: ConfigDefinition<S>,
  input: unknown,
): z.output<S> {
  const result = definition.schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join(".");
  throw new ConfigError({ kind: "object" }, key, issue?.message ?? result.error.message, {
    cause: result.error,
  });
}

interface LeafIndex {
  readonly byKey: ReadonlyMap<string, ConfigLeaf>;
  readonly byEnv: ReadonlyMap<string, ConfigLeaf>;
  /** Dotted keys of sections (tables), e.g. `server`. */
  readonly sections: ReadonlySet<string>;
}

function indexLeaves(leaves: readonly ConfigLeaf[]): LeafIndex {
  const sections = new Set<string>();
  for (const leaf of leaves) {
    for (let depth = 1; depth < leaf.path.length; depth++) {
      sections.add(leaf.path.slice(0, depth).join("."));
    }
  }
  return {
    byKey: new Map(leaves.map((leaf) => [leaf.key, leaf])),
    byEnv: new Map(leaves.map((leaf) => [leaf.env, leaf])),
    sections,
  };
}

function readConfigFile(path: string): Record<string, unknown> {
  const source: ConfigSource = { kind: "file", path };
  const extension = extname(path).toLowerCase();
  if (extension !== ".toml" && extension !== ".json") {
    throw new ConfigError(
      source,
      undefined,
      `unsupported file type "${extension}": use a .toml or .json file`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(source, undefined, `cannot read the file: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (extension === ".toml") {
    try {
      return parseToml(text);
    } catch (error) {
      if (error instanceof TomlError) {
        // smol-toml appends a multi-line code excerpt; the first line plus the position is enough.
        const summary = error.message.split("\n")[0] ?? error.message;
        const problem = `not valid TOML at line ${error.line}, column ${error.column}: ${summary}`;
        throw new ConfigError(source, undefined, problem, { cause: error });
      }
      throw error;
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(source, undefined, `not valid JSON: ${errorMessage(error)}`, { cause: error });
  }
  if (!isPlainObject(parsed)) {
    throw new ConfigError(source, undefined, "the top level must be a JSON object");
  }
  return parsed;
}

/** Rejects unknown keys and validates every value a file sets, naming the file and the key. */
function checkTree(
  tree: Record<string, unknown>,
  path: readonly string[],
  index: LeafIndex,
  source: ConfigSource,
) {
  for (const [name, value] of Object.entries(tree)) {
    const keyPath = [...path, name];
    const key = keyPath.join(".");
    const leaf = index.byKey.get(key);
    if (leaf !== undefined) {
      checkValue(leaf, value, source);
    } else if (index.sections.has(key)) {
      if (!isPlainObject(value)) {
        throw new ConfigError(source, key, `expected a table of options, got ${formatConfigValue(value)}`);
      }
      checkTree(value, keyPath, index, source);
    } else {
      const suggestion = closestKey(key, [...index.byKey.keys(), ...index.sections]);
      const hint = suggestion === undefined ? "" : ` (did you mean ${suggestion}?)`;
      throw new ConfigError(source, key, `unknown option${hint}`);
    }
  }
}

function checkValue(leaf: ConfigLeaf, value: unknown, source: ConfigSource): void {
  const result = leaf.valueSchema.safeParse(value);
  if (result.success) return;
  const issue = result.error.issues[0];
  const problem = issue?.message ?? result.error.message;
  throw new ConfigError(source, leaf.key, `${problem} (got ${formatConfigValue(value)})`, {
    cause: result.error,
  });
}

function readOptionString(leaf: ConfigLeaf, raw: string, source: ConfigSource): unknown {
  const parsed = parseOptionString(leaf.valueKind, raw);
  if (!parsed.ok) {
    throw new ConfigError(source, leaf.key, `${parsed.problem} (got ${JSON.stringify(raw)})`);
  }
  checkValue(leaf, parsed.value, source);
  return parsed.value;
}

function mergeInto(target: Record<string, unknown>, tree: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(tree)) {
    const existing = target[name];
    if (isPlainObject(value) && isPlainObject(existing)) {
      mergeInto(existing, value);
    } else {
      target[name] = isPlainObject(value) ? structuredClone(value) : value;
    }
  }
}

function setAt(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let current = target;
  for (const segment of path.slice(0, -1)) {
    const next = current[segment];
    if (isPlainObject(next)) {
      current = next;
    } else {
      const created: Record<string, unknown> = {};
      current[segment] = created;
      current = created;
    }
  }
  const last = path[path.length - 1];
  if (last !== undefined) current[last] = value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The known key closest to a misspelt one, if it is close enough to be a likely typo. */
function closestKey(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 4)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
