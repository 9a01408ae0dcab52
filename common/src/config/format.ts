import type { ConfigOption } from "./options.js";

/** A default value as it would be written in a JSON or TOML config file. */
export function formatConfigValue(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/**
 * A Markdown table of options (key, env var, flag, type, default, description). docs/configuration.md
 * embeds this exact rendering and a test compares the two, so the doc cannot drift from the schema.
 */
export function formatOptionsMarkdownTable(options: readonly ConfigOption[]): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const code = (text: string) => `\`${cell(text)}\``;
  const lines = [
    "| Key | Environment variable | Flag | Type | Default | Description |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const option of options) {
    const flag = option.flag === undefined ? "" : code(option.flag);
    const columns = [
      code(option.key),
      code(option.env),
      flag,
      cell(option.type),
      code(formatConfigValue(option.default)),
      cell(option.description),
    ];
    lines.push(`| ${columns.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** A plain-text listing of options for `--help`. */
export function formatOptionsHelp(options: readonly ConfigOption[]): string {
  const blocks = options.map((option) => {
    const flag = option.flag === undefined ? "" : `, flag ${option.flag}`;
    return [
      `  ${option.key} (${option.type}, default ${formatConfigValue(option.default)})`,
      `      ${option.description}`,
      `      env ${option.env}${flag}`,
    ].join("\n");
  });
  return blocks.join("\n");
}

/**
 * The cells of each row of a Markdown table, ignoring alignment padding and the separator row, so a
 * table reformatted by prettier compares equal to `formatOptionsMarkdownTable` output.
 */
export function markdownTableRows(markdown: string): string[][] {
  return markdown
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("|"))
    .map((line) =>
      line
        .slice(1, line.endsWith("|") ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    )
    .filter((cells) => !cells.every((cell) => /^:?-+:?$/.test(cell)));
}
