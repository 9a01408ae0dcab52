import { describe, expect, it } from "vitest";
import { Lexer, SqlSyntaxError, SqlSyntaxErrorCode, TokenKind, type Token } from "../../src/sql/index.js";

function lex(sql: string): Token[] {
  const lexer = new Lexer(sql);
  const tokens: Token[] = [];
  for (let t = lexer.next(); t.kind !== TokenKind.EndOfInput; t = lexer.next()) tokens.push(t);
  return tokens;
}

function kindsAndValues(sql: string): [string, string][] {
  return lex(sql).map((t) => [t.kind, t.value]);
}

function lexError(sql: string): SqlSyntaxError {
  try {
    lex(sql);
  } catch (e) {
    if (e instanceof SqlSyntaxError) return e;
    throw e;
  }
  throw new Error(`lexing ${sql} did not fail`);
}

describe("Lexer", () => {
  it("splits words, numbers, strings, quoted identifiers and symbols", () => {
    expect(kindsAndValues(`SELECT a1, "Quoted Name", \`back\`, 'str', 42, 1.5 FROM t`)).toEqual([
      ["word", "SELECT"],
      ["word", "a1"],
      ["symbol", ","],
      ["quotedIdentifier", "Quoted Name"],
      ["symbol", ","],
      ["quotedIdentifier", "back"],
      ["symbol", ","],
      ["string", "str"],
      ["symbol", ","],
      ["integer", "42"],
      ["symbol", ","],
      ["decimal", "1.5"],
      ["word", "FROM"],
      ["word", "t"],
    ]);
  });

  it("upper-cases keywords for matching but keeps the word as written", () => {
    const [token] = lex("sElEcT");
    expect(token).toMatchObject({ kind: TokenKind.Word, value: "sElEcT", keyword: "SELECT", text: "sElEcT" });
  });

  it("reads every operator, longest first", () => {
    expect(lex("( ) , ; . * + - / % = != <> < <= > >= ::").map((t) => t.value)).toEqual([
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
    ]);
    expect(lex("a<=b").map((t) => t.value)).toEqual(["a", "<=", "b"]);
  });

  it("reads integers, decimals and exponents", () => {
    expect(kindsAndValues("0 18446744073709551615 1.5 .5 1. 1e10 2.5E-3 7e+2")).toEqual([
      ["integer", "0"],
      ["integer", "18446744073709551615"],
      ["decimal", "1.5"],
      ["decimal", ".5"],
      ["decimal", "1."],
      ["decimal", "1e10"],
      ["decimal", "2.5E-3"],
      ["decimal", "7e+2"],
    ]);
  });

  it("resolves doubled quotes inside strings and quoted identifiers", () => {
    expect(kindsAndValues(`'it''s' "a""b" \`c\`\`d\` ''`)).toEqual([
      ["string", "it's"],
      ["quotedIdentifier", 'a"b'],
      ["quotedIdentifier", "c`d"],
      ["string", ""],
    ]);
  });

  it("keeps the source text of each token for error messages", () => {
    expect(lex(`'it''s' "a""b"`).map((t) => t.text)).toEqual([`'it''s'`, `"a""b"`]);
  });

  it("skips line and block comments", () => {
    expect(kindsAndValues("a -- comment ; 'x'\n/* block\n * comment */ b/**/c")).toEqual([
      ["word", "a"],
      ["word", "b"],
      ["word", "c"],
    ]);
  });

  it("tracks 1-based line and column across newlines, comments and multi-line strings", () => {
    const tokens = lex("SELECT\n  a, -- note\n\t'x\ny' /* c\nc */ b\r\nFROM t");
    expect(tokens.map((t) => [t.value, t.line, t.column, t.offset])).toEqual([
      ["SELECT", 1, 1, 0],
      ["a", 2, 3, 9],
      [",", 2, 4, 10],
      ["x\ny", 3, 2, 21],
      ["b", 5, 6, 37],
      ["FROM", 6, 1, 40],
      ["t", 6, 6, 45],
    ]);
  });

  it("accepts letters beyond ASCII in bare identifiers", () => {
    expect(kindsAndValues("SELECT 温度, café FROM 表")).toEqual([
      ["word", "SELECT"],
      ["word", "温度"],
      ["symbol", ","],
      ["word", "café"],
      ["word", "FROM"],
      ["word", "表"],
    ]);
  });

  it("returns the end-of-input token again and again once at the end", () => {
    const lexer = new Lexer("a  ");
    lexer.next();
    const end = lexer.next();
    expect(end).toMatchObject({ kind: TokenKind.EndOfInput, offset: 3, line: 1, column: 4 });
    expect(lexer.next()).toEqual(end);
  });

  describe("errors", () => {
    it.each([
      ["SELECT 'abc", SqlSyntaxErrorCode.UnterminatedString, 1, 8, "'abc"],
      ["SELECT\n  'it''s", SqlSyntaxErrorCode.UnterminatedString, 2, 3, "'it''s"],
      ['SELECT "abc', SqlSyntaxErrorCode.UnterminatedIdentifier, 1, 8, '"abc'],
      ["SELECT `abc", SqlSyntaxErrorCode.UnterminatedIdentifier, 1, 8, "`abc"],
      ["SELECT 1 /* open\n", SqlSyntaxErrorCode.UnterminatedComment, 1, 10, "/* open\n"],
      ["SELECT a @ b", SqlSyntaxErrorCode.UnexpectedCharacter, 1, 10, "@"],
      ["SELECT\n\n   a ! b", SqlSyntaxErrorCode.UnexpectedCharacter, 3, 6, "!"],
      ["SELECT 12abc", SqlSyntaxErrorCode.InvalidLiteral, 1, 8, "12abc"],
      ["SELECT 1.2.3", SqlSyntaxErrorCode.InvalidLiteral, 1, 8, "1.2.3"],
      ['SELECT ""', SqlSyntaxErrorCode.InvalidLiteral, 1, 8, '""'],
    ])("%j fails with %s at line %i, column %i", (sql, code, line, column, found) => {
      const error = lexError(sql);
      expect(error).toMatchObject({ code, line, column, found });
      expect(error.message).toMatch(new RegExp(`^SQL syntax error at line ${line}, column ${column}: `));
    });

    it("names the character and its position", () => {
      expect(lexError("SELECT a # b").message).toBe(
        "SQL syntax error at line 1, column 10: unexpected character '#'",
      );
    });

    it("describes an unterminated string", () => {
      expect(lexError("SELECT 'abc").message).toBe(
        "SQL syntax error at line 1, column 8: unterminated string literal: no closing quote (')",
      );
    });
  });
});
