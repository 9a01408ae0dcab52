/**
 * The SQL front end: a lexer and a recursive-descent parser of HoraeDB's SQL dialect into a typed
 * syntax tree, and the formatter back to SQL. Planning and execution consume the tree.
 */
export type * from "./ast.js";
export {
  formatColumnDefinition,
  formatExpr,
  formatStatement,
  quoteIdentifier,
  quoteString,
} from "./format.js";
export { SqlSyntaxError, SqlSyntaxErrorCode, type SqlSyntaxErrorDetails } from "./errors.js";
export { MAX_EXPRESSION_DEPTH } from "./expression-parser.js";
export { isReservedWord } from "./keywords.js";
export { Lexer } from "./lexer.js";
export { parseExpression, parseStatement, parseStatements } from "./parser.js";
export { parseIntervalText, parseTimestampText, type IntervalLength } from "./time-literals.js";
export { TokenKind, type SourcePosition, type Token } from "./tokens.js";
