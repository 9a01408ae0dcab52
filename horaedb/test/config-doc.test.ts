import { readFileSync } from "node:fs";
import { formatOptionsMarkdownTable, listConfigOptions, markdownTableRows } from "@horaedb/common";
import { describe, expect, it } from "vitest";
import { horaeDBConfigDefinition } from "../src/index.js";

const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");

/** The text between `<!-- name:start -->` and `<!-- name:end -->` in the doc. */
function markedBlock(name: string): string | undefined {
  const match = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(doc);
  return match?.[1];
}

describe("docs/configuration.md", () => {
  it("lists every horaedb option with its env var, flag, type, current default and description", () => {
    const table = markedBlock("horaedb-options");
    expect(table, "docs/configuration.md has no horaedb-options block").toBeDefined();
    // On failure, put formatOptionsMarkdownTable's rows in the doc between the horaedb-options markers.
    const expected = formatOptionsMarkdownTable(listConfigOptions(horaeDBConfigDefinition));
    expect(markdownTableRows(table ?? "")).toEqual(markdownTableRows(expected));
  });
});
