/** Where a configuration value came from; every config error names one. */
export type ConfigSource =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "env"; readonly variable: string }
  | { readonly kind: "flag"; readonly flag: string }
  /** An already-assembled configuration object, e.g. one built by a test or an embedding program. */
  | { readonly kind: "object" };

export function describeConfigSource(source: ConfigSource): string {
  switch (source.kind) {
    case "file":
      return `config file ${source.path}`;
    case "env":
      return `environment variable ${source.variable}`;
    case "flag":
      return `command-line flag ${source.flag}`;
    case "object":
      return "configuration object";
  }
}

/**
 * A configuration value that cannot be used. The message names the source (file, environment
 * variable or flag), the dotted option key when there is one, and what is wrong, so an operator can
 * fix it without reading code.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly source: ConfigSource;
  /** Dotted option key such as `server.http_port`; undefined when the whole source is unusable. */
  readonly key: string | undefined;
  readonly problem: string;

  constructor(source: ConfigSource, key: string | undefined, problem: string, options?: ErrorOptions) {
    const where = key === undefined ? "" : `: option ${key}`;
    super(`invalid configuration in ${describeConfigSource(source)}${where}: ${problem}`, options);
    this.source = source;
    this.key = key;
    this.problem = problem;
  }
}
