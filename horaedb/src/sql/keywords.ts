/**
 * Reserved words: keywords that can never be a bare (unquoted) name, because a name in their place
 * would be ambiguous with the clause or operator they start. Every other keyword of the dialect
 * (TAG, KEY, TIMESTAMP, INTERVAL, COMMENT, ENGINE, FIRST, LAST, ...) is recognised only where the
 * grammar expects it, and is an ordinary name everywhere else, so columns such as `timestamp`,
 * `tag` or `value` need no quotes.
 */
const RESERVED_WORDS: ReadonlySet<string> = new Set([
  "ALL",
  "ALTER",
  "AND",
  "AS",
  "ASC",
  "BETWEEN",
  "BY",
  "CASE",
  "CAST",
  "CREATE",
  "DEFAULT",
  "DESC",
  "DESCRIBE",
  "DISTINCT",
  "DROP",
  "ELSE",
  "END",
  "EXISTS",
  "EXPLAIN",
  "FALSE",
  "FROM",
  "GROUP",
  "HAVING",
  "ILIKE",
  "IN",
  "INSERT",
  "INTO",
  "IS",
  "JOIN",
  "LIKE",
  "LIMIT",
  "NOT",
  "NULL",
  "OFFSET",
  "ON",
  "OR",
  "ORDER",
  "PARTITION",
  "PRIMARY",
  "SELECT",
  "SHOW",
  "TABLE",
  "THEN",
  "TRUE",
  "UNION",
  "VALUES",
  "WHEN",
  "WHERE",
  "WITH",
]);

/** Whether `upper` (an upper-cased word) is reserved. */
export function isReservedWord(upper: string): boolean {
  return RESERVED_WORDS.has(upper);
}
