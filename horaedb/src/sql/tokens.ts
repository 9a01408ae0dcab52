/**
 * Tokens produced by the SQL lexer, and the source positions shared with the AST and errors.
 */

/** A place in the SQL text: `offset` is 0-based; `line` and `column` are 1-based, in UTF-16 units. */
export interface SourcePosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

export const TokenKind = {
  /** A bare word: a keyword or an unquoted identifier. */
  Word: "word",
  /** A "double-quoted" or `backquoted` identifier. */
  QuotedIdentifier: "quotedIdentifier",
  /** A 'single-quoted' string. */
  String: "string",
  /** Digits only, e.g. `42`. */
  Integer: "integer",
  /** A number with a fraction or exponent, e.g. `1.5`, `.5`, `2e10`. */
  Decimal: "decimal",
  /** An operator or punctuation, e.g. `(`, `<=`, `::`. */
  Symbol: "symbol",
  EndOfInput: "endOfInput",
} as const;

export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

export const SYMBOLS = [
  "(",
  ")",
  ",",
  ";",
  ".",
  "*",
  "+",
  "-",
  "/",
  "%",
  "=",
  "!=",
  "<>",
  "<",
  "<=",
  ">",
  ">=",
  "::",
] as const;

export type SymbolText = (typeof SYMBOLS)[number];

export interface Token extends SourcePosition {
  readonly kind: TokenKind;
  /**
   * What the token stands for: a word as written, a quoted identifier or string with its quotes
   * removed and escapes resolved, a number's digits, a symbol's text; empty at the end of input.
   */
  readonly value: string;
  /** The token exactly as written in the source (used in error messages). */
  readonly text: string;
  /** For words, the upper-cased value (keywords are matched on it); otherwise empty. */
  readonly keyword: string;
}
