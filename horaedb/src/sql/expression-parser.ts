import { ALL_DATA_TYPES, DataType, parseDataType } from "../table/data-type.js";
import type {
  BinaryOperator,
  CaseBranch,
  ComparisonOperator,
  Expr,
  FunctionCall,
  Identifier,
  IntervalUnit,
} from "./ast.js";
import { SqlSyntaxErrorCode } from "./errors.js";
import {
  intervalUnitOf,
  isBareIntervalNumber,
  parseIntervalText,
  parseTimestampText,
} from "./time-literals.js";
import { positionOf, TokenCursor } from "./token-cursor.js";
import { TokenKind, type SourcePosition, type Token } from "./tokens.js";

/** How deep expressions may nest (parentheses, NOT NOT ..., - - ...) before parsing gives up. */
export const MAX_EXPRESSION_DEPTH = 200;

const COMPARISON_OPERATORS: ReadonlyMap<string, ComparisonOperator> = new Map([
  ["=", "="],
  ["!=", "!="],
  ["<>", "!="],
  ["<", "<"],
  ["<=", "<="],
  [">", ">"],
  [">=", ">="],
]);

const KNOWN_TYPES = ALL_DATA_TYPES.join(", ");

/**
 * Recursive-descent parser of expressions, by precedence from loosest to tightest:
 * OR < AND < NOT < comparison, IS, IN, BETWEEN, LIKE < + - < * / % < unary - + < `::` < primary.
 * Binary operators of one level associate to the left.
 */
export class ExpressionParser extends TokenCursor {
  private depth = 0;

  parseExpr(): Expr {
    this.enterNesting();
    const expr = this.parseOr();
    this.depth -= 1;
    return expr;
  }

  /** `a, b, c`: one expression or more. */
  protected parseExprList(): Expr[] {
    const list = [this.parseExpr()];
    while (this.acceptSymbol(",")) list.push(this.parseExpr());
    return list;
  }

  /** A type name as `parseDataType` knows it; `VARCHAR(255)`-style lengths of strings are ignored. */
  protected parseDataTypeName(): { type: DataType; pos: SourcePosition } {
    const token = this.peek();
    if (token.kind !== TokenKind.Word) this.fail(`a data type (${KNOWN_TYPES})`);
    const type = parseDataType(token.value);
    if (type === undefined) {
      throw this.errorAt(
        token,
        SqlSyntaxErrorCode.UnknownDataType,
        `a data type (${KNOWN_TYPES})`,
        `unknown data type '${token.text}'; known types are ${KNOWN_TYPES}`,
      );
    }
    this.advance();
    if (
      type === DataType.String &&
      this.isSymbol("(") &&
      this.peek(1).kind === TokenKind.Integer &&
      this.isSymbol(")", 2)
    ) {
      this.advance();
      this.advance();
      this.advance();
    }
    return { type, pos: positionOf(token) };
  }

  private enterNesting(): void {
    this.depth += 1;
    if (this.depth > MAX_EXPRESSION_DEPTH) {
      throw this.errorAt(
        this.peek(),
        SqlSyntaxErrorCode.NestingTooDeep,
        `at most ${MAX_EXPRESSION_DEPTH} levels of nesting`,
        `expression nested more than ${MAX_EXPRESSION_DEPTH} levels deep`,
      );
    }
  }

  private binary(op: BinaryOperator, left: Expr, right: Expr, at: Token): Expr {
    return { kind: "binary", op, left, right, pos: positionOf(at) };
  }

  private parseOr(): Expr {
    let left = this.parseAnd();
    for (let op = this.acceptKeyword("OR"); op; op = this.acceptKeyword("OR")) {
      left = this.binary("OR", left, this.parseAnd(), op);
    }
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseNot();
    for (let op = this.acceptKeyword("AND"); op; op = this.acceptKeyword("AND")) {
      left = this.binary("AND", left, this.parseNot(), op);
    }
    return left;
  }

  private parseNot(): Expr {
    const not = this.acceptKeyword("NOT");
    if (not === undefined) return this.parseComparison();
    this.enterNesting();
    const operand = this.parseNot();
    this.depth -= 1;
    return { kind: "unary", op: "NOT", operand, pos: positionOf(not) };
  }

  /** Comparisons and the predicates of the same level (IS, IN, BETWEEN, LIKE), left to right. */
  private parseComparison(): Expr {
    let left = this.parseAdditive();
    for (;;) {
      const token = this.peek();
      if (token.kind === TokenKind.Symbol) {
        const op = COMPARISON_OPERATORS.get(token.value);
        if (op === undefined) return left;
        this.advance();
        left = this.binary(op, left, this.parseAdditive(), token);
        continue;
      }
      if (token.kind !== TokenKind.Word) return left;
      if (token.keyword === "IS") {
        left = this.parseIs(left);
        continue;
      }
      // NOT here belongs to NOT IN / NOT BETWEEN / NOT LIKE; any other NOT ends the expression
      // (as in `DEFAULT 0 NOT NULL`).
      const negated = token.keyword === "NOT";
      const keyword = negated ? this.peek(1) : token;
      if (keyword.kind !== TokenKind.Word) return left;
      const pos = positionOf(token);
      switch (keyword.keyword) {
        case "IN":
          if (negated) this.advance();
          left = this.parseInList(left, negated, pos);
          break;
        case "BETWEEN":
          if (negated) this.advance();
          left = this.parseBetween(left, negated, pos);
          break;
        case "LIKE":
        case "ILIKE":
          if (negated) this.advance();
          this.advance();
          left = {
            kind: "like",
            expr: left,
            pattern: this.parseAdditive(),
            negated,
            caseInsensitive: keyword.keyword === "ILIKE",
            pos,
          };
          break;
        default:
          return left;
      }
    }
  }

  private parseIs(expr: Expr): Expr {
    const is = this.advance();
    const negated = this.acceptKeyword("NOT") !== undefined;
    const token = this.peek();
    const test = token.kind === TokenKind.Word ? token.keyword : "";
    if (test !== "NULL" && test !== "TRUE" && test !== "FALSE") {
      this.fail(negated ? "NULL, TRUE or FALSE after IS NOT" : "NOT, NULL, TRUE or FALSE after IS");
    }
    this.advance();
    return { kind: "is", expr, test, negated, pos: positionOf(is) };
  }

  private parseInList(expr: Expr, negated: boolean, pos: SourcePosition): Expr {
    this.advance();
    this.expectSymbol("(", "'(' after IN");
    if (this.isSymbol(")")) this.fail("a value in the IN list");
    const list = this.parseExprList();
    this.expectSymbol(")", "',' or ')' in the IN list");
    return { kind: "inList", expr, list, negated, pos };
  }

  private parseBetween(expr: Expr, negated: boolean, pos: SourcePosition): Expr {
    this.advance();
    const low = this.parseAdditive();
    this.expectKeyword("AND", "AND between the bounds of BETWEEN");
    const high = this.parseAdditive();
    return { kind: "between", expr, low, high, negated, pos };
  }

  private parseAdditive(): Expr {
    let left = this.parseMultiplicative();
    for (;;) {
      const op = this.acceptSymbol("+") ?? this.acceptSymbol("-");
      if (op === undefined) return left;
      left = this.binary(op.value as "+" | "-", left, this.parseMultiplicative(), op);
    }
  }

  private parseMultiplicative(): Expr {
    let left = this.parseUnary();
    for (;;) {
      const op = this.acceptSymbol("*") ?? this.acceptSymbol("/") ?? this.acceptSymbol("%");
      if (op === undefined) return left;
      left = this.binary(op.value as "*" | "/" | "%", left, this.parseUnary(), op);
    }
  }

  /** Unary minus and plus; a minus before a number literal is folded into the literal. */
  private parseUnary(): Expr {
    const sign = this.acceptSymbol("-") ?? this.acceptSymbol("+");
    if (sign === undefined) return this.parsePostfix();
    this.enterNesting();
    const operand = this.parseUnary();
    this.depth -= 1;
    const pos = positionOf(sign);
    if (sign.value === "-") {
      if (operand.kind === "integer") return { kind: "integer", value: -operand.value, pos };
      if (operand.kind === "float") return { kind: "float", value: -operand.value, pos };
    }
    return { kind: "unary", op: sign.value as "-" | "+", operand, pos };
  }

  /** A primary followed by any number of `::type` casts. */
  private parsePostfix(): Expr {
    let expr = this.parsePrimary();
    for (let cast = this.acceptSymbol("::"); cast; cast = this.acceptSymbol("::")) {
      expr = { kind: "cast", expr, type: this.parseDataTypeName().type, pos: positionOf(cast) };
    }
    return expr;
  }

  private parsePrimary(): Expr {
    const token = this.peek();
    const pos = positionOf(token);
    switch (token.kind) {
      case TokenKind.Integer:
        this.advance();
        return { kind: "integer", value: BigInt(token.value), pos };
      case TokenKind.Decimal: {
        const value = Number(token.value);
        if (!Number.isFinite(value)) {
          throw this.errorAt(
            token,
            SqlSyntaxErrorCode.InvalidLiteral,
            "a number within the range of a double",
            `number '${token.text}' is out of range`,
          );
        }
        this.advance();
        return { kind: "float", value, pos };
      }
      case TokenKind.String:
        this.advance();
        return { kind: "string", value: token.value, pos };
      case TokenKind.QuotedIdentifier:
        return this.parseNameExpr();
      case TokenKind.Symbol:
        if (token.value === "(") {
          this.advance();
          const inner = this.parseExpr();
          this.expectSymbol(")", "')' to close '('");
          return inner;
        }
        return this.fail("an expression");
      case TokenKind.Word:
        return this.parseWordExpr(token, pos);
      default:
        return this.fail("an expression");
    }
  }

  private parseWordExpr(token: Token, pos: SourcePosition): Expr {
    switch (token.keyword) {
      case "NULL":
        this.advance();
        return { kind: "null", pos };
      case "TRUE":
      case "FALSE":
        this.advance();
        return { kind: "boolean", value: token.keyword === "TRUE", pos };
      case "CASE":
        return this.parseCase();
      case "CAST":
        return this.parseCast();
      case "INTERVAL":
        if (this.peek(1).kind === TokenKind.String) return this.parseInterval();
        break;
      case "TIMESTAMP":
        if (this.peek(1).kind === TokenKind.String) return this.parseTimestamp();
        break;
    }
    if (!this.isIdentifierStart()) this.fail("an expression");
    return this.parseNameExpr();
  }

  /** A column (`c`, `t.c`) or a function call (`f(...)`). */
  private parseNameExpr(): Expr {
    const first = this.parseIdentifier("an expression");
    if (this.isSymbol("(")) return this.parseFunctionCall(first);
    if (this.acceptSymbol(".")) {
      const name = this.parseIdentifier("a column name after '.'");
      return { kind: "column", table: first, name, pos: first.pos };
    }
    return { kind: "column", table: undefined, name: first, pos: first.pos };
  }

  private parseFunctionCall(name: Identifier): FunctionCall {
    this.advance();
    const pos = name.pos;
    if (this.acceptSymbol(")")) {
      return { kind: "function", name, args: [], distinct: false, wildcard: false, pos };
    }
    const distinct = this.acceptKeyword("DISTINCT") !== undefined;
    if (!distinct && this.acceptSymbol("*")) {
      this.expectSymbol(")", "')' after '*'");
      return { kind: "function", name, args: [], distinct: false, wildcard: true, pos };
    }
    const args = this.parseExprList();
    this.expectSymbol(")", "',' or ')' after a function argument");
    return { kind: "function", name, args, distinct, wildcard: false, pos };
  }

  private parseCase(): Expr {
    const start = this.advance();
    const operand = this.isKeyword("WHEN") ? undefined : this.parseExpr();
    const branches: CaseBranch[] = [];
    while (this.acceptKeyword("WHEN")) {
      const when = this.parseExpr();
      this.expectKeyword("THEN", "THEN after the WHEN condition");
      branches.push({ when, then: this.parseExpr() });
    }
    if (branches.length === 0) this.fail("WHEN in CASE");
    const otherwise = this.acceptKeyword("ELSE") ? this.parseExpr() : undefined;
    this.expectKeyword("END", otherwise === undefined ? "WHEN, ELSE or END in CASE" : "END to close CASE");
    return { kind: "case", operand, branches, else: otherwise, pos: positionOf(start) };
  }

  private parseCast(): Expr {
    const start = this.advance();
    this.expectSymbol("(", "'(' after CAST");
    const expr = this.parseExpr();
    this.expectKeyword("AS", "AS in CAST");
    const { type } = this.parseDataTypeName();
    this.expectSymbol(")", "')' to close CAST");
    return { kind: "cast", expr, type, pos: positionOf(start) };
  }

  /** `INTERVAL '1 hour'` or `INTERVAL '1' HOUR`. */
  private parseInterval(): Expr {
    const start = this.advance();
    const text = this.advance();
    const next = this.peek();
    let unit: IntervalUnit | undefined;
    if (next.kind === TokenKind.Word && isBareIntervalNumber(text.value)) {
      unit = intervalUnitOf(next.keyword);
      if (unit !== undefined) this.advance();
    }
    const length = parseIntervalText(text.value, unit);
    if (length === undefined) {
      const expected =
        unit === undefined
          ? "an interval such as '5 minutes', '1 hour 30 minutes' or '2d'"
          : `a number of ${unit.toLowerCase()}s`;
      throw this.errorAt(
        text,
        SqlSyntaxErrorCode.InvalidLiteral,
        expected,
        `invalid interval ${text.text}; expected ${expected}`,
      );
    }
    return { kind: "interval", text: text.value, unit, ...length, pos: positionOf(start) };
  }

  /** `TIMESTAMP '2024-01-01 00:00:00'`. */
  private parseTimestamp(): Expr {
    const start = this.advance();
    const text = this.advance();
    const value = parseTimestampText(text.value);
    if (value === undefined) {
      const expected = "a timestamp such as '2024-01-01 00:00:00' or '2024-01-01T00:00:00.000Z'";
      throw this.errorAt(
        text,
        SqlSyntaxErrorCode.InvalidLiteral,
        expected,
        `invalid timestamp ${text.text}; expected ${expected}`,
      );
    }
    return { kind: "timestamp", text: text.value, value, pos: positionOf(start) };
  }
}
