import type { Identifier } from "./ast.js";
import { SqlSyntaxError, SqlSyntaxErrorCode, describeFound } from "./errors.js";
import { isReservedWord } from "./keywords.js";
import { Lexer } from "./lexer.js";
import { TokenKind, type SourcePosition, type SymbolText, type Token } from "./tokens.js";

/**
 * Walks the tokens of one SQL text with lookahead, and builds the syntax errors the parsers throw.
 * Tokens are lexed only as far as the parser looks, so errors come out in source order.
 */
export class TokenCursor {
  private readonly lexer: Lexer;
  private readonly tokens: Token[] = [];
  private index = 0;

  constructor(sql: string) {
    this.lexer = new Lexer(sql);
  }

  /** The token `ahead` places after the current one (0 = the current one). */
  protected peek(ahead = 0): Token {
    const at = this.index + ahead;
    const buffered = this.tokens[at];
    if (buffered !== undefined) return buffered;
    while (this.tokens.length <= at) {
      const last = this.tokens[this.tokens.length - 1];
      // Past the end, keep answering the end-of-input token.
      this.tokens.push(last?.kind === TokenKind.EndOfInput ? last : this.lexer.next());
    }
    return this.tokens[at] as Token;
  }

  protected advance(): Token {
    const token = this.peek();
    if (token.kind !== TokenKind.EndOfInput) this.index += 1;
    return token;
  }

  protected atEnd(): boolean {
    return this.peek().kind === TokenKind.EndOfInput;
  }

  protected isKeyword(keyword: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === TokenKind.Word && token.keyword === keyword;
  }

  protected isSymbol(symbol: SymbolText, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === TokenKind.Symbol && token.value === symbol;
  }

  /** Consumes the keyword if it is next. */
  protected acceptKeyword(keyword: string): Token | undefined {
    return this.isKeyword(keyword) ? this.advance() : undefined;
  }

  /** Consumes the keywords if they are all next, in order; otherwise consumes nothing. */
  protected acceptKeywords(...keywords: string[]): boolean {
    for (let i = 0; i < keywords.length; i++) {
      if (!this.isKeyword(keywords[i] ?? "", i)) return false;
    }
    for (let i = 0; i < keywords.length; i++) this.advance();
    return true;
  }

  protected acceptSymbol(symbol: SymbolText): Token | undefined {
    return this.isSymbol(symbol) ? this.advance() : undefined;
  }

  /** Consumes the keyword, or fails with "expected <description>". */
  protected expectKeyword(keyword: string, description: string = keyword): Token {
    return this.acceptKeyword(keyword) ?? this.fail(description);
  }

  /** Consumes the symbol, or fails with "expected <description>", e.g. "')' after column list". */
  protected expectSymbol(symbol: SymbolText, description: string = `'${symbol}'`): Token {
    return this.acceptSymbol(symbol) ?? this.fail(description);
  }

  /**
   * Reads a name: a quoted identifier, or a bare word that is not reserved. `description` says what
   * the name is for, e.g. "a column name".
   */
  protected parseIdentifier(description: string): Identifier {
    const token = this.peek();
    if (token.kind === TokenKind.QuotedIdentifier) {
      this.advance();
      return { value: token.value, pos: positionOf(token) };
    }
    if (token.kind === TokenKind.Word) {
      if (isReservedWord(token.keyword)) throw this.reservedWordError(token, description);
      this.advance();
      return { value: token.value, pos: positionOf(token) };
    }
    return this.fail(description);
  }

  /** Whether the current token can start a name (see `parseIdentifier`). */
  protected isIdentifierStart(ahead = 0): boolean {
    const token = this.peek(ahead);
    return (
      token.kind === TokenKind.QuotedIdentifier ||
      (token.kind === TokenKind.Word && !isReservedWord(token.keyword))
    );
  }

  /** Throws "expected <description>, found <current token>". */
  protected fail(description: string, token: Token = this.peek()): never {
    throw this.unexpected(description, token);
  }

  protected unexpected(description: string, token: Token = this.peek()): SqlSyntaxError {
    const atEnd = token.kind === TokenKind.EndOfInput;
    return new SqlSyntaxError({
      code: atEnd ? SqlSyntaxErrorCode.UnexpectedEnd : SqlSyntaxErrorCode.UnexpectedToken,
      position: positionOf(token),
      found: atEnd ? undefined : token.text,
      expected: description,
    });
  }

  /** An error at `token` with its own code, and its own reason if not "expected X, found Y". */
  protected errorAt(
    token: Token,
    code: SqlSyntaxErrorCode,
    expected: string,
    reason?: string,
  ): SqlSyntaxError {
    return new SqlSyntaxError({
      code,
      position: positionOf(token),
      found: token.kind === TokenKind.EndOfInput ? undefined : token.text,
      expected,
      ...(reason === undefined ? {} : { reason }),
    });
  }

  private reservedWordError(token: Token, description: string): SqlSyntaxError {
    const quoted = "`" + token.value.replaceAll("`", "``") + "`";
    return this.errorAt(
      token,
      SqlSyntaxErrorCode.ReservedWord,
      description,
      `expected ${description}, found reserved word ${describeFound(token.text)} (write ${quoted} to use it as a name)`,
    );
  }
}

export function positionOf(token: Token): SourcePosition {
  return { offset: token.offset, line: token.line, column: token.column };
}
