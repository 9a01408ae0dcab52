import { SqlSyntaxError, SqlSyntaxErrorCode } from "./errors.js";
import { TokenKind, type SourcePosition, type Token } from "./tokens.js";

const CH_TAB = 9;
const CH_LF = 10;
const CH_VERTICAL_TAB = 11;
const CH_FORM_FEED = 12;
const CH_CR = 13;
const CH_SPACE = 32;
const CH_BANG = 33;
const CH_DOUBLE_QUOTE = 34;
const CH_DOLLAR = 36;
const CH_QUOTE = 39;
const CH_STAR = 42;
const CH_PLUS = 43;
const CH_MINUS = 45;
const CH_DOT = 46;
const CH_SLASH = 47;
const CH_0 = 48;
const CH_9 = 57;
const CH_COLON = 58;
const CH_LT = 60;
const CH_EQ = 61;
const CH_GT = 62;
const CH_UNDERSCORE = 95;
const CH_BACKQUOTE = 96;
const CH_E_UPPER = 69;
const CH_E_LOWER = 101;

const SINGLE_CHAR_SYMBOLS = "(),;*+-/%=.";

const NON_ASCII_WORD_START = /[\p{L}]/u;
const NON_ASCII_WORD_PART = /[\p{L}\p{N}\p{M}]/u;

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Splits SQL text into tokens on demand, so that a statement's syntax error is reported before a
 * lexical error further on. Skips whitespace and `--` / `/* *\/` comments; tracks line and column.
 */
export class Lexer {
  private readonly src: string;
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(src: string) {
    this.src = src;
  }

  /** The next token; at the end, an `endOfInput` token (again on every further call). */
  next(): Token {
    this.skipWhitespaceAndComments();
    const start = this.position();
    const src = this.src;
    if (this.pos >= src.length) return this.token(TokenKind.EndOfInput, start, "", "");
    const c = src.charCodeAt(this.pos);

    if (isAsciiLetter(c) || c === CH_UNDERSCORE) return this.word(start);
    if (isDigit(c) || (c === CH_DOT && isDigit(src.charCodeAt(this.pos + 1)))) return this.number(start);
    if (c === CH_QUOTE) return this.string(start);
    if (c === CH_DOUBLE_QUOTE || c === CH_BACKQUOTE) return this.quotedIdentifier(start, c);

    const symbol = this.symbolAt(c);
    if (symbol !== undefined) {
      this.pos += symbol.length;
      return this.token(TokenKind.Symbol, start, symbol, "");
    }
    const ch = String.fromCodePoint(src.codePointAt(this.pos) ?? c);
    if (c > 127 && NON_ASCII_WORD_START.test(ch)) return this.word(start);
    throw new SqlSyntaxError({
      code: SqlSyntaxErrorCode.UnexpectedCharacter,
      position: start,
      found: ch,
      expected: "a token",
      reason: `unexpected character '${ch}'`,
    });
  }

  /** The operator or punctuation starting at the current character `c`, longest first. */
  private symbolAt(c: number): string | undefined {
    const next = this.src.charCodeAt(this.pos + 1);
    switch (c) {
      case CH_LT:
        return next === CH_EQ ? "<=" : next === CH_GT ? "<>" : "<";
      case CH_GT:
        return next === CH_EQ ? ">=" : ">";
      case CH_BANG:
        return next === CH_EQ ? "!=" : undefined;
      case CH_COLON:
        return next === CH_COLON ? "::" : undefined;
      default: {
        const one = String.fromCharCode(c);
        return SINGLE_CHAR_SYMBOLS.includes(one) ? one : undefined;
      }
    }
  }

  private position(): SourcePosition {
    return { offset: this.pos, line: this.line, column: this.pos - this.lineStart + 1 };
  }

  private token(kind: TokenKind, start: SourcePosition, value: string, keyword: string): Token {
    return {
      kind,
      value,
      text: this.src.slice(start.offset, this.pos),
      keyword,
      offset: start.offset,
      line: start.line,
      column: start.column,
    };
  }

  /** Consumes one character, keeping the line count right; `\r\n` counts as one line break. */
  private advance(): void {
    const c = this.src.charCodeAt(this.pos);
    this.pos += 1;
    if (c === CH_LF || (c === CH_CR && this.src.charCodeAt(this.pos) !== CH_LF)) {
      this.line += 1;
      this.lineStart = this.pos;
    }
  }

  private skipWhitespaceAndComments(): void {
    const src = this.src;
    for (;;) {
      const c = src.charCodeAt(this.pos);
      if (
        c === CH_SPACE ||
        c === CH_TAB ||
        c === CH_LF ||
        c === CH_CR ||
        c === CH_FORM_FEED ||
        c === CH_VERTICAL_TAB
      ) {
        this.advance();
      } else if (c === CH_MINUS && src.charCodeAt(this.pos + 1) === CH_MINUS) {
        let next = src.charCodeAt(this.pos);
        while (this.pos < src.length && next !== CH_LF && next !== CH_CR) {
          this.pos += 1;
          next = src.charCodeAt(this.pos);
        }
      } else if (c === CH_SLASH && src.charCodeAt(this.pos + 1) === CH_STAR) {
        this.blockComment();
      } else {
        return;
      }
    }
  }

  private blockComment(): void {
    const start = this.position();
    this.pos += 2;
    const src = this.src;
    while (this.pos < src.length) {
      if (src.charCodeAt(this.pos) === CH_STAR && src.charCodeAt(this.pos + 1) === CH_SLASH) {
        this.pos += 2;
        return;
      }
      this.advance();
    }
    throw new SqlSyntaxError({
      code: SqlSyntaxErrorCode.UnterminatedComment,
      position: start,
      found: src.slice(start.offset),
      expected: "'*/' closing the comment",
      reason: "unterminated comment: '/*' without a closing '*/'",
    });
  }

  private word(start: SourcePosition): Token {
    const src = this.src;
    while (this.pos < src.length) {
      const c = src.charCodeAt(this.pos);
      if (isAsciiLetter(c) || isDigit(c) || c === CH_UNDERSCORE || c === CH_DOLLAR) {
        this.pos += 1;
      } else if (c > 127) {
        const cp = src.codePointAt(this.pos) ?? c;
        if (!NON_ASCII_WORD_PART.test(String.fromCodePoint(cp))) break;
        this.pos += cp > 0xffff ? 2 : 1;
      } else {
        break;
      }
    }
    const value = src.slice(start.offset, this.pos);
    return this.token(TokenKind.Word, start, value, value.toUpperCase());
  }

  /** `123`, `1.5`, `.5`, `1.`, `1e10`, `2.5E-3`; a letter straight after a number is an error. */
  private number(start: SourcePosition): Token {
    const src = this.src;
    let isDecimal = false;
    while (isDigit(src.charCodeAt(this.pos))) this.pos += 1;
    if (src.charCodeAt(this.pos) === CH_DOT) {
      isDecimal = true;
      this.pos += 1;
      while (isDigit(src.charCodeAt(this.pos))) this.pos += 1;
    }
    const e = src.charCodeAt(this.pos);
    if (e === CH_E_UPPER || e === CH_E_LOWER) {
      const sign = src.charCodeAt(this.pos + 1);
      const digitsAt = sign === CH_PLUS || sign === CH_MINUS ? this.pos + 2 : this.pos + 1;
      if (isDigit(src.charCodeAt(digitsAt))) {
        isDecimal = true;
        this.pos = digitsAt;
        while (isDigit(src.charCodeAt(this.pos))) this.pos += 1;
      }
    }
    const next = src.charCodeAt(this.pos);
    if (isAsciiLetter(next) || next === CH_UNDERSCORE || next === CH_DOT) {
      while (this.pos < src.length && /[\w.]/.test(src[this.pos] ?? "")) this.pos += 1;
      const text = src.slice(start.offset, this.pos);
      throw new SqlSyntaxError({
        code: SqlSyntaxErrorCode.InvalidLiteral,
        position: start,
        found: text,
        expected: "a number",
        reason: `invalid number '${text}'`,
      });
    }
    const text = src.slice(start.offset, this.pos);
    return this.token(isDecimal ? TokenKind.Decimal : TokenKind.Integer, start, text, "");
  }

  /** `'...'`, where `''` stands for one quote. */
  private string(start: SourcePosition): Token {
    const value = this.quoted(CH_QUOTE, start);
    if (value === undefined) {
      throw new SqlSyntaxError({
        code: SqlSyntaxErrorCode.UnterminatedString,
        position: start,
        found: this.src.slice(start.offset),
        expected: "a closing quote (')",
        reason: "unterminated string literal: no closing quote (')",
      });
    }
    return this.token(TokenKind.String, start, value, "");
  }

  /** `"..."` or `` `...` ``, where a doubled quote stands for one. */
  private quotedIdentifier(start: SourcePosition, quote: number): Token {
    const q = String.fromCharCode(quote);
    const value = this.quoted(quote, start);
    if (value === undefined) {
      throw new SqlSyntaxError({
        code: SqlSyntaxErrorCode.UnterminatedIdentifier,
        position: start,
        found: this.src.slice(start.offset),
        expected: `a closing ${q}`,
        reason: `unterminated quoted identifier: no closing ${q}`,
      });
    }
    if (value === "") {
      throw new SqlSyntaxError({
        code: SqlSyntaxErrorCode.InvalidLiteral,
        position: start,
        found: q + q,
        expected: "a name between the quotes",
        reason: "empty quoted identifier",
      });
    }
    return this.token(TokenKind.QuotedIdentifier, start, value, "");
  }

  /** Reads a quoted run starting at the opening quote; undefined if it does not end. */
  private quoted(quote: number, start: SourcePosition): string | undefined {
    const src = this.src;
    this.pos = start.offset + 1;
    let value = "";
    let runStart = this.pos;
    while (this.pos < src.length) {
      const c = src.charCodeAt(this.pos);
      if (c === quote) {
        value += src.slice(runStart, this.pos);
        if (src.charCodeAt(this.pos + 1) !== quote) {
          this.pos += 1;
          return value;
        }
        value += src[this.pos];
        this.pos += 2;
        runStart = this.pos;
      } else {
        this.advance();
      }
    }
    return undefined;
  }
}
