import { z } from "zod";

/** A server's configuration: a strict object of sections (see `configSection`) and options. */
export type ConfigSchema = z.ZodObject;

/**
 * A server's configuration schema plus how it is addressed from outside: the environment variable
 * prefix and which options have a command-line flag.
 */
export interface ConfigDefinition<S extends ConfigSchema = ConfigSchema> {
  readonly schema: S;
  /** Upper-case prefix without the trailing underscore, e.g. `HORAEDB`. */
  readonly envPrefix: string;
  /** Dotted option key -> flag name without dashes, e.g. `{ "server.http_port": "http-port" }`. */
  readonly flags?: Readonly<Record<string, string>>;
}

/** What shape of value an option holds; decides how a string from env or a flag is read. */
export type ConfigValueKind =
  | { readonly kind: "string" }
  | {
      readonly kind: "number";
      readonly integer: boolean;
      readonly min: number | null;
      readonly max: number | null;
    }
  | { readonly kind: "boolean" }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "string-list" };

/** One option of a configuration schema, as shown in docs and `--help`. */
export interface ConfigOption {
  /** Dotted key, e.g. `server.http_port`; the same path is a TOML table + key in a config file. */
  readonly key: string;
  readonly path: readonly string[];
  /** Human-readable type, e.g. `integer 0..65535` or `one of: standalone, cluster`. */
  readonly type: string;
  readonly valueKind: ConfigValueKind;
  readonly default: unknown;
  readonly description: string;
  /** Environment variable that sets this option, e.g. `HORAEDB_SERVER__HTTP_PORT`. */
  readonly env: string;
  /** Command-line flag including dashes, e.g. `--http-port`, if the option has one. */
  readonly flag: string | undefined;
}

/** An option together with the schema that validates a single value of it. */
export interface ConfigLeaf extends ConfigOption {
  readonly valueSchema: z.ZodType;
}

/**
 * Thrown when a schema does not follow the conventions the loader relies on (every option has a
 * default and a description, sections are strict objects). This is a programming error, caught by
 * the servers' own tests, never an operator's.
 */
export class ConfigSchemaError extends Error {
  override readonly name = "ConfigSchemaError";
  readonly key: string;

  constructor(key: string, problem: string) {
    super(`configuration schema option ${key}: ${problem}`);
    this.key = key;
  }
}

/**
 * A configuration section: a strict object (unknown keys are errors) that may be omitted entirely,
 * in which case every option in it takes its default.
 */
export function configSection<Shape extends z.ZodRawShape>(shape: Shape) {
  // prefault (not default) so an omitted section is parsed as `{}` and its options' defaults apply.
  // The cast: TypeScript cannot see that `{}` is valid input for a generic shape; it is whenever every
  // option has a default, which listConfigOptions enforces.
  return z.strictObject(shape).prefault({} as z.input<z.ZodObject<Shape, z.core.$strict>>);
}

/** Environment variable for an option path: prefix, then path segments upper-cased and joined by `__`. */
export function envVarName(envPrefix: string, path: readonly string[]): string {
  return `${envPrefix}_${path.map((segment) => segment.toUpperCase()).join("__")}`;
}

/** Every option of a definition, in schema order. */
export function listConfigOptions(definition: ConfigDefinition): ConfigOption[] {
  return collectConfigLeaves(definition).map(({ valueSchema: _valueSchema, ...option }) => option);
}

/** Every option with its value schema; the loader validates each source value against these. */
export function collectConfigLeaves(definition: ConfigDefinition): ConfigLeaf[] {
  const parsedDefaults = definition.schema.safeParse({});
  const leaves: ConfigLeaf[] = [];
  // Walk first so a missing default is reported by option name rather than as a parse failure.
  collectFromObject(definition, definition.schema, [], parsedDefaults.data, leaves);
  if (!parsedDefaults.success) {
    const issue = parsedDefaults.error.issues[0];
    throw new ConfigSchemaError(issue?.path.join(".") ?? "", `default is invalid: ${issue?.message ?? ""}`);
  }
  const flags = definition.flags ?? {};
  for (const key of Object.keys(flags)) {
    if (!leaves.some((leaf) => leaf.key === key)) {
      throw new ConfigSchemaError(key, "has a command-line flag but is not an option of the schema");
    }
  }
  return leaves;
}

function collectFromObject(
  definition: ConfigDefinition,
  object: z.ZodObject,
  path: readonly string[],
  defaults: unknown,
  leaves: ConfigLeaf[],
): void {
  for (const [name, field] of Object.entries(object.shape)) {
    const fieldPath = [...path, name];
    const key = fieldPath.join(".");
    const section = sectionObject(field);
    if (section !== undefined) {
      collectFromObject(definition, section, fieldPath, valueAt(defaults, [name]), leaves);
      continue;
    }
    if (!(field instanceof z.ZodDefault)) {
      throw new ConfigSchemaError(key, "has no default (wrap it in .default(...))");
    }
    const valueSchema = field.unwrap() as z.ZodType;
    const description = field.description ?? valueSchema.description;
    if (description === undefined || description.trim() === "") {
      throw new ConfigSchemaError(key, "has no description (add .describe(...))");
    }
    const valueKind = valueKindOf(key, valueSchema);
    const flagName = definition.flags?.[key];
    leaves.push({
      key,
      path: fieldPath,
      type: describeValueKind(valueKind),
      valueKind,
      default: valueAt(defaults, [name]),
      description,
      env: envVarName(definition.envPrefix, fieldPath),
      flag: flagName === undefined ? undefined : `--${flagName}`,
      valueSchema,
    });
  }
}

function sectionObject(field: unknown): z.ZodObject | undefined {
  if (field instanceof z.ZodObject) return field;
  if (field instanceof z.ZodPrefault || field instanceof z.ZodDefault) {
    const inner = field.unwrap();
    if (inner instanceof z.ZodObject) return inner;
  }
  return undefined;
}

function valueKindOf(key: string, schema: z.ZodType): ConfigValueKind {
  if (schema instanceof z.ZodString) return { kind: "string" };
  if (schema instanceof z.ZodBoolean) return { kind: "boolean" };
  if (schema instanceof z.ZodNumber) {
    const integer = schema.format === "safeint" || schema.format === "int32" || schema.format === "uint32";
    // z.int() reports the safe-integer range as its bounds; only explicit bounds are worth showing.
    const min =
      schema.minValue !== null && schema.minValue > Number.MIN_SAFE_INTEGER ? schema.minValue : null;
    const max =
      schema.maxValue !== null && schema.maxValue < Number.MAX_SAFE_INTEGER ? schema.maxValue : null;
    return { kind: "number", integer, min, max };
  }
  if (schema instanceof z.ZodEnum) {
    return { kind: "enum", values: schema.options.map(String) };
  }
  if (schema instanceof z.ZodArray && schema.element instanceof z.ZodString) {
    return { kind: "string-list" };
  }
  throw new ConfigSchemaError(key, "has a type the configuration loader cannot read from env or flags");
}

function describeValueKind(kind: ConfigValueKind): string {
  switch (kind.kind) {
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    case "string-list":
      return "list of strings";
    case "enum":
      return `one of: ${kind.values.join(", ")}`;
    case "number": {
      const base = kind.integer ? "integer" : "number";
      if (kind.min !== null && kind.max !== null) return `${base} ${kind.min}..${kind.max}`;
      if (kind.min !== null) return `${base} >= ${kind.min}`;
      if (kind.max !== null) return `${base} <= ${kind.max}`;
      return base;
    }
  }
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
