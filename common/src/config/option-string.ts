import type { ConfigValueKind } from "./options.js";

export type OptionStringResult =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problem: string };

/**
 * Reads an option value given as a string (environment variable or command-line flag) according to
 * the option's type. Range and enum checks are left to the option's schema.
 */
export function parseOptionString(kind: ConfigValueKind, raw: string): OptionStringResult {
  switch (kind.kind) {
    case "string":
    case "enum":
      return { ok: true, value: raw };
    case "number": {
      const text = raw.trim();
      const value = Number(text);
      if (text === "" || Number.isNaN(value)) {
        return { ok: false, problem: `expected ${kind.integer ? "an integer" : "a number"}` };
      }
      return { ok: true, value };
    }
    case "boolean": {
      const text = raw.trim().toLowerCase();
      if (text === "true" || text === "1") return { ok: true, value: true };
      if (text === "false" || text === "0") return { ok: true, value: false };
      return { ok: false, problem: "expected true or false" };
    }
    case "string-list":
      return parseStringList(raw);
  }
}

/** A comma-separated list (`a,b`) or a JSON array of strings (`["a","b"]`). */
function parseStringList(raw: string): OptionStringResult {
  const text = raw.trim();
  if (text.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, problem: "expected a JSON array of strings or a comma-separated list" };
    }
    return { ok: true, value: parsed };
  }
  const items = text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  return { ok: true, value: items };
}
