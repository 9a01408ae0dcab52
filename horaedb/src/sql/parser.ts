import { DataType } from "../table/data-type.js";
import type {
  AlterTableAddColumnsStatement,
  AlterTableModifySettingStatement,
  ColumnDefinition,
  CreateTableStatement,
  DescribeTableStatement,
  DropTableStatement,
  ExistsTableStatement,
  Expr,
  ExplainableStatement,
  FromTable,
  Identifier,
  InsertStatement,
  IntegerLiteral,
  KeyPartition,
  OrderByItem,
  SelectItem,
  SelectStatement,
  ShowCreateTableStatement,
  ShowDatabasesStatement,
  ShowTablesStatement,
  Statement,
  TableName,
  TableOption,
} from "./ast.js";
import { type SqlSyntaxError, SqlSyntaxErrorCode } from "./errors.js";
import { ExpressionParser } from "./expression-parser.js";
import { positionOf } from "./token-cursor.js";
import { TokenKind, type Token } from "./tokens.js";

/** Parses exactly one statement; a trailing `;` is allowed. Throws `SqlSyntaxError`. */
export function parseStatement(sql: string): Statement {
  return new StatementParser(sql).parseSingle();
}

/** Parses statements separated by `;` (empty statements are skipped). Throws `SqlSyntaxError`. */
export function parseStatements(sql: string): Statement[] {
  return new StatementParser(sql).parseAll();
}

/** Parses one expression making up the whole text, e.g. a DEFAULT stored as text. */
export function parseExpression(sql: string): Expr {
  return new StatementParser(sql).parseWholeExpression();
}

const STATEMENTS_EXPECTED =
  "a statement (SELECT, INSERT, CREATE TABLE, DROP TABLE, ALTER TABLE, DESCRIBE, SHOW, EXISTS or EXPLAIN)";

/** The clauses of SELECT after the select list, in the order they must come. */
const SELECT_CLAUSES = ["FROM", "WHERE", "GROUP BY", "HAVING", "ORDER BY", "LIMIT", "OFFSET"] as const;
type SelectClause = (typeof SELECT_CLAUSES)[number];

/** The SELECT clause a word starts, if any. */
function selectClauseOf(token: Token): SelectClause | undefined {
  if (token.kind !== TokenKind.Word) return undefined;
  switch (token.keyword) {
    case "GROUP":
      return "GROUP BY";
    case "ORDER":
      return "ORDER BY";
    default:
      return (SELECT_CLAUSES as readonly string[]).includes(token.keyword)
        ? (token.keyword as SelectClause)
        : undefined;
  }
}

/** Recursive-descent parser of statements, on top of the expression parser. */
class StatementParser extends ExpressionParser {
  parseAll(): Statement[] {
    const statements: Statement[] = [];
    for (;;) {
      while (this.acceptSymbol(";"));
      if (this.atEnd()) return statements;
      statements.push(this.parseAnyStatement());
      if (!this.atEnd() && !this.isSymbol(";")) throw this.trailingInput("';' or end of input");
    }
  }

  parseSingle(): Statement {
    const statement = this.parseAnyStatement();
    const terminated = this.acceptSymbol(";") !== undefined;
    while (this.acceptSymbol(";"));
    if (!this.atEnd()) {
      throw this.trailingInput(
        terminated ? "end of input (only one statement is allowed)" : "';' or end of input",
      );
    }
    return statement;
  }

  parseWholeExpression(): Expr {
    const expr = this.parseExpr();
    if (!this.atEnd()) throw this.trailingInput("an operator or end of input");
    return expr;
  }

  private trailingInput(expected: string): SqlSyntaxError {
    return this.errorAt(this.peek(), SqlSyntaxErrorCode.TrailingInput, expected);
  }

  private parseAnyStatement(): Statement {
    if (this.isKeyword("EXPLAIN")) {
      const start = this.advance();
      const analyze = this.acceptKeyword("ANALYZE") !== undefined;
      if (this.isKeyword("EXPLAIN")) this.fail("a statement to explain");
      const statement = this.parseExplainable();
      return { kind: "explain", analyze, statement, pos: positionOf(start) };
    }
    return this.parseExplainable();
  }

  private parseExplainable(): ExplainableStatement {
    const token = this.peek();
    if (token.kind === TokenKind.Word) {
      switch (token.keyword) {
        case "SELECT":
          return this.parseSelect();
        case "INSERT":
          return this.parseInsert();
        case "CREATE":
          return this.parseCreateTable();
        case "DROP":
          return this.parseDropTable();
        case "ALTER":
          return this.parseAlterTable();
        case "DESCRIBE":
        case "DESC":
          return this.parseDescribe();
        case "SHOW":
          return this.parseShow();
        case "EXISTS":
          return this.parseExistsTable();
      }
    }
    return this.fail(STATEMENTS_EXPECTED);
  }

  // -------------------------------------------------------------------------------------------------
  // Names and small pieces

  /** `name` or `schema.name`. */
  private parseTableName(): TableName {
    const first = this.parseIdentifier("a table name");
    if (!this.acceptSymbol(".")) return { schema: undefined, name: first };
    return { schema: first, name: this.parseIdentifier("a table name after '.'") };
  }

  /** `(a, b, ...)`: one name or more, in parentheses. */
  private parseParenthesizedNames(what: string, after: string): Identifier[] {
    this.expectSymbol("(", `'(' after ${after}`);
    const names = [this.parseIdentifier(what)];
    while (this.acceptSymbol(",")) names.push(this.parseIdentifier(what));
    this.expectSymbol(")", `',' or ')' after ${what}`);
    return names;
  }

  /** A non-negative integer literal (LIMIT, OFFSET). */
  private parseCount(description: string): IntegerLiteral {
    const token = this.peek();
    if (token.kind !== TokenKind.Integer) this.fail(description);
    this.advance();
    return { kind: "integer", value: BigInt(token.value), pos: positionOf(token) };
  }

  private duplicate(token: Token, what: string): SqlSyntaxError {
    return this.errorAt(
      token,
      SqlSyntaxErrorCode.DuplicateClause,
      `at most one ${what}`,
      `duplicate ${what}`,
    );
  }

  // -------------------------------------------------------------------------------------------------
  // SELECT

  private parseSelect(): SelectStatement {
    const start = this.advance();
    let distinct = false;
    if (this.acceptKeyword("DISTINCT")) distinct = true;
    else this.acceptKeyword("ALL");

    const items = [this.parseSelectItem()];
    while (this.acceptSymbol(",")) items.push(this.parseSelectItem());

    const seen = new Set<SelectClause>();
    let from: FromTable | undefined;
    if (this.acceptKeyword("FROM")) {
      seen.add("FROM");
      from = this.parseFromTable();
    }
    let where: Expr | undefined;
    if (this.acceptKeyword("WHERE")) {
      seen.add("WHERE");
      where = this.parseExpr();
    }
    let groupBy: Expr[] = [];
    if (this.acceptKeyword("GROUP")) {
      seen.add("GROUP BY");
      this.expectKeyword("BY", "BY after GROUP");
      groupBy = this.parseExprList();
    }
    let having: Expr | undefined;
    if (this.acceptKeyword("HAVING")) {
      seen.add("HAVING");
      having = this.parseExpr();
    }
    let orderBy: OrderByItem[] = [];
    if (this.acceptKeyword("ORDER")) {
      seen.add("ORDER BY");
      this.expectKeyword("BY", "BY after ORDER");
      orderBy = [this.parseOrderByItem()];
      while (this.acceptSymbol(",")) orderBy.push(this.parseOrderByItem());
    }
    // LIMIT and OFFSET may come in either order; `LIMIT m, n` sets both.
    let limit: IntegerLiteral | undefined;
    let offset: IntegerLiteral | undefined;
    for (;;) {
      if (!seen.has("LIMIT") && this.acceptKeyword("LIMIT")) {
        seen.add("LIMIT");
        limit = this.parseCount("a row count after LIMIT");
        if (offset === undefined && this.acceptSymbol(",")) {
          seen.add("OFFSET");
          offset = limit;
          limit = this.parseCount("a row count after LIMIT m,");
        }
      } else if (!seen.has("OFFSET") && this.acceptKeyword("OFFSET")) {
        seen.add("OFFSET");
        offset = this.parseCount("a row count after OFFSET");
      } else {
        break;
      }
    }
    this.rejectRepeatedOrMisplacedClause(seen);

    return {
      kind: "select",
      distinct,
      items,
      from,
      where,
      groupBy,
      having,
      orderBy,
      limit,
      offset,
      pos: positionOf(start),
    };
  }

  /** After a complete SELECT: a clause keyword here is either a second one or out of order. */
  private rejectRepeatedOrMisplacedClause(seen: ReadonlySet<SelectClause>): void {
    const token = this.peek();
    const clause = selectClauseOf(token);
    if (clause === undefined) return;
    if (seen.has(clause)) throw this.duplicate(token, `${clause} clause`);
    const rank = SELECT_CLAUSES.indexOf(clause);
    const later = SELECT_CLAUSES.find((c, i) => i > rank && seen.has(c));
    if (later !== undefined) {
      throw this.errorAt(
        token,
        SqlSyntaxErrorCode.MisplacedClause,
        `${clause} before ${later}`,
        `misplaced ${clause}: it must come before ${later}`,
      );
    }
  }

  private parseSelectItem(): SelectItem {
    const star = this.acceptSymbol("*");
    if (star) return { kind: "wildcard", table: undefined, pos: positionOf(star) };
    if (this.isIdentifierStart() && this.isSymbol(".", 1) && this.isSymbol("*", 2)) {
      const table = this.parseIdentifier("a table name");
      this.advance();
      this.advance();
      return { kind: "wildcard", table, pos: table.pos };
    }
    const expr = this.parseExpr();
    return { kind: "expr", expr, alias: this.parseOptionalAlias() };
  }

  /** `AS name`, or a bare name (which cannot be a reserved word). */
  private parseOptionalAlias(): Identifier | undefined {
    if (this.acceptKeyword("AS")) return this.parseIdentifier("an alias after AS");
    return this.isIdentifierStart() ? this.parseIdentifier("an alias") : undefined;
  }

  private parseFromTable(): FromTable {
    const table = this.parseTableName();
    const alias = this.parseOptionalAlias();
    if (this.isKeyword("JOIN") || this.isSymbol(",")) {
      throw this.errorAt(this.peek(), SqlSyntaxErrorCode.UnexpectedToken, "one table after FROM (no joins)");
    }
    return { table, alias };
  }

  private parseOrderByItem(): OrderByItem {
    const expr = this.parseExpr();
    let direction: OrderByItem["direction"];
    if (this.acceptKeyword("ASC")) direction = "ASC";
    else if (this.acceptKeyword("DESC")) direction = "DESC";
    let nulls: OrderByItem["nulls"];
    if (this.acceptKeyword("NULLS")) {
      if (this.acceptKeyword("FIRST")) nulls = "FIRST";
      else if (this.acceptKeyword("LAST")) nulls = "LAST";
      else this.fail("FIRST or LAST after NULLS");
    }
    return { expr, direction, nulls };
  }

  // -------------------------------------------------------------------------------------------------
  // INSERT

  private parseInsert(): InsertStatement {
    const start = this.advance();
    this.expectKeyword("INTO", "INTO after INSERT");
    const table = this.parseTableName();
    let columns: Identifier[] | undefined;
    if (this.acceptSymbol("(")) {
      columns = [this.parseIdentifier("a column name")];
      while (this.acceptSymbol(",")) columns.push(this.parseIdentifier("a column name"));
      this.expectSymbol(")", "')' after column list");
    }
    this.expectKeyword("VALUES", columns === undefined ? "'(' or VALUES" : "VALUES");
    const rows: Expr[][] = [];
    do {
      this.expectSymbol("(", "'(' to start a row of VALUES");
      rows.push(this.parseExprList());
      this.expectSymbol(")", "',' or ')' after a value");
    } while (this.acceptSymbol(","));
    return { kind: "insert", table, columns, rows, pos: positionOf(start) };
  }

  // -------------------------------------------------------------------------------------------------
  // CREATE TABLE

  private parseCreateTable(): CreateTableStatement {
    const start = this.advance();
    this.expectKeyword("TABLE", "TABLE after CREATE");
    const ifNotExists = this.parseIfClause("NOT", "EXISTS");
    const table = this.parseTableName();
    this.expectSymbol("(", "'(' after the table name");

    const columns: ColumnDefinition[] = [];
    let timestampKey: Identifier | undefined;
    let primaryKey: Identifier[] | undefined;
    for (;;) {
      const token = this.peek();
      if (this.isKeyword("TIMESTAMP") && this.isKeyword("KEY", 1)) {
        if (timestampKey !== undefined) throw this.duplicate(token, "TIMESTAMP KEY");
        this.advance();
        this.advance();
        this.expectSymbol("(", "'(' after TIMESTAMP KEY");
        timestampKey = this.parseIdentifier("the timestamp key column");
        this.expectSymbol(")", "')' after the TIMESTAMP KEY column");
      } else if (this.acceptKeyword("PRIMARY")) {
        this.expectKeyword("KEY", "KEY after PRIMARY");
        if (primaryKey !== undefined) throw this.duplicate(token, "PRIMARY KEY");
        primaryKey = this.parseParenthesizedNames("a primary key column", "PRIMARY KEY");
      } else {
        const { column, timestampKeyToken } = this.parseColumnDefinition(true);
        if (timestampKeyToken !== undefined) {
          if (timestampKey !== undefined) throw this.duplicate(timestampKeyToken, "TIMESTAMP KEY");
          timestampKey = column.name;
        }
        columns.push(column);
      }
      // A comma before the closing parenthesis is allowed, as in HoraeDB.
      if (this.acceptSymbol(",")) {
        if (this.acceptSymbol(")")) break;
        continue;
      }
      this.expectSymbol(")", "',' or ')' after a column definition");
      break;
    }
    timestampKey ??= this.inferTimestampKey(columns);

    let partition: KeyPartition | undefined;
    let engine: Identifier | undefined;
    let options: TableOption[] | undefined;
    for (;;) {
      const token = this.peek();
      if (this.isKeyword("PARTITION")) {
        if (partition !== undefined) throw this.duplicate(token, "PARTITION BY clause");
        partition = this.parsePartition();
      } else if (this.acceptKeyword("ENGINE")) {
        if (engine !== undefined) throw this.duplicate(token, "ENGINE clause");
        this.expectSymbol("=", "'=' after ENGINE");
        engine = this.parseIdentifier("an engine name");
      } else if (this.acceptKeyword("WITH")) {
        if (options !== undefined) throw this.duplicate(token, "WITH clause");
        this.expectSymbol("(", "'(' after WITH");
        options = this.parseOptionList();
        this.expectSymbol(")", "',' or ')' after a table option");
      } else {
        break;
      }
    }
    return {
      kind: "createTable",
      ifNotExists,
      table,
      columns,
      timestampKey,
      primaryKey,
      partition,
      engine,
      options: options ?? [],
      pos: positionOf(start),
    };
  }

  /** HoraeDB's rule: without a TIMESTAMP KEY, the only timestamp column (if just one) is the key. */
  private inferTimestampKey(columns: readonly ColumnDefinition[]): Identifier | undefined {
    const timestamps = columns.filter((c) => c.type === DataType.Timestamp);
    return timestamps.length === 1 ? timestamps[0]?.name : undefined;
  }

  /** `IF [NOT] EXISTS` before a table name; `if` followed by anything else is the name. */
  private parseIfClause(...rest: string[]): boolean {
    if (!this.isKeyword("IF") || !this.isKeyword(rest[0] ?? "", 1)) return false;
    this.advance();
    for (const keyword of rest) this.expectKeyword(keyword, `IF ${rest.join(" ")}`);
    return true;
  }

  /**
   * `name type [TAG] [NULL | NOT NULL] [DEFAULT expr] [COMMENT 'text'] [TIMESTAMP KEY]`, options in
   * any order, each at most once. TIMESTAMP KEY only where `allowTimestampKey` (CREATE TABLE).
   */
  private parseColumnDefinition(allowTimestampKey: boolean): {
    column: ColumnDefinition;
    timestampKeyToken: Token | undefined;
  } {
    const name = this.parseIdentifier("a column name");
    const { type, pos: typePos } = this.parseDataTypeName();
    let isTag = false;
    let nullable: boolean | undefined;
    let defaultValue: Expr | undefined;
    let comment: string | undefined;
    let timestampKeyToken: Token | undefined;
    const of = `for column '${name.value}'`;
    for (;;) {
      const token = this.peek();
      if (this.acceptKeyword("TAG")) {
        if (isTag) throw this.duplicate(token, `TAG ${of}`);
        isTag = true;
      } else if (this.acceptKeywords("NOT", "NULL") || this.acceptKeyword("NULL")) {
        if (nullable !== undefined) throw this.duplicate(token, `NULL / NOT NULL ${of}`);
        nullable = token.keyword === "NULL";
      } else if (this.acceptKeyword("DEFAULT")) {
        if (defaultValue !== undefined) throw this.duplicate(token, `DEFAULT ${of}`);
        defaultValue = this.parseExpr();
      } else if (this.acceptKeyword("COMMENT")) {
        if (comment !== undefined) throw this.duplicate(token, `COMMENT ${of}`);
        const text = this.peek();
        if (text.kind !== TokenKind.String) this.fail("a 'string' after COMMENT");
        this.advance();
        comment = text.value;
      } else if (allowTimestampKey && this.isKeyword("TIMESTAMP") && this.isKeyword("KEY", 1)) {
        if (timestampKeyToken !== undefined) throw this.duplicate(token, `TIMESTAMP KEY ${of}`);
        this.advance();
        this.advance();
        timestampKeyToken = token;
      } else {
        break;
      }
    }
    return {
      column: { name, type, typePos, isTag, nullable, default: defaultValue, comment },
      timestampKeyToken,
    };
  }

  /** `PARTITION BY KEY(col, ...) [PARTITIONS n]`. */
  private parsePartition(): KeyPartition {
    const start = this.advance();
    this.expectKeyword("BY", "BY after PARTITION");
    this.expectKeyword("KEY", "KEY after PARTITION BY (only KEY partitioning is supported)");
    const columns = this.parseParenthesizedNames("a partition key column", "PARTITION BY KEY");
    let count = 1;
    if (this.acceptKeyword("PARTITIONS")) {
      const token = this.peek();
      const n = token.kind === TokenKind.Integer ? Number(token.value) : NaN;
      if (!Number.isSafeInteger(n) || n < 1) {
        if (token.kind !== TokenKind.Integer) this.fail("a number of partitions");
        throw this.errorAt(
          token,
          SqlSyntaxErrorCode.InvalidLiteral,
          "a positive number of partitions",
          `invalid number of partitions '${token.text}'`,
        );
      }
      this.advance();
      count = n;
    }
    return { kind: "key", columns, count, pos: positionOf(start) };
  }

  /** `k = 'v', ...`: values are strings, numbers or booleans, kept as text; names are unique. */
  private parseOptionList(): TableOption[] {
    const options: TableOption[] = [];
    const names = new Set<string>();
    do {
      const nameToken = this.peek();
      const name = this.parseIdentifier("an option name");
      const key = name.value.toLowerCase();
      if (names.has(key)) throw this.duplicate(nameToken, `option '${name.value}'`);
      names.add(key);
      this.expectSymbol("=", `'=' after option name '${name.value}'`);
      const token = this.peek();
      const isValue =
        token.kind === TokenKind.String ||
        token.kind === TokenKind.Integer ||
        token.kind === TokenKind.Decimal ||
        (token.kind === TokenKind.Word && (token.keyword === "TRUE" || token.keyword === "FALSE"));
      if (!isValue) this.fail(`a value for option '${name.value}' (a 'string', number, TRUE or FALSE)`);
      this.advance();
      const value = token.kind === TokenKind.Word ? token.keyword.toLowerCase() : token.value;
      options.push({ name, value, valuePos: positionOf(token) });
    } while (this.acceptSymbol(","));
    return options;
  }

  // -------------------------------------------------------------------------------------------------
  // DROP, ALTER, DESCRIBE, SHOW, EXISTS

  private parseDropTable(): DropTableStatement {
    const start = this.advance();
    this.expectKeyword("TABLE", "TABLE after DROP");
    const ifExists = this.parseIfClause("EXISTS");
    return { kind: "dropTable", ifExists, table: this.parseTableName(), pos: positionOf(start) };
  }

  private parseAlterTable(): AlterTableAddColumnsStatement | AlterTableModifySettingStatement {
    const start = this.advance();
    const pos = positionOf(start);
    this.expectKeyword("TABLE", "TABLE after ALTER");
    const table = this.parseTableName();
    if (this.acceptKeyword("MODIFY")) {
      this.expectKeyword("SETTING", "SETTING after MODIFY");
      return { kind: "alterTableModifySetting", table, options: this.parseOptionList(), pos };
    }
    if (!this.isKeyword("ADD")) this.fail("ADD COLUMN or MODIFY SETTING after the table name");
    const columns: ColumnDefinition[] = [];
    do {
      this.expectKeyword("ADD", "ADD COLUMN after ','");
      this.expectKeyword("COLUMN", "COLUMN after ADD");
      if (this.acceptSymbol("(")) {
        do columns.push(this.parseColumnDefinition(false).column);
        while (this.acceptSymbol(","));
        this.expectSymbol(")", "',' or ')' after a column definition");
      } else {
        columns.push(this.parseColumnDefinition(false).column);
      }
    } while (this.acceptSymbol(","));
    return { kind: "alterTableAddColumns", table, columns, pos };
  }

  private parseDescribe(): DescribeTableStatement {
    const start = this.advance();
    this.acceptKeyword("TABLE");
    return { kind: "describeTable", table: this.parseTableName(), pos: positionOf(start) };
  }

  private parseExistsTable(): ExistsTableStatement {
    const start = this.advance();
    this.acceptKeyword("TABLE");
    return { kind: "existsTable", table: this.parseTableName(), pos: positionOf(start) };
  }

  private parseShow(): ShowTablesStatement | ShowDatabasesStatement | ShowCreateTableStatement {
    const start = this.advance();
    const pos = positionOf(start);
    if (this.acceptKeyword("TABLES")) {
      let pattern: string | undefined;
      if (this.acceptKeyword("LIKE")) {
        const token = this.peek();
        if (token.kind !== TokenKind.String) this.fail("a 'pattern' after LIKE");
        this.advance();
        pattern = token.value;
      }
      return { kind: "showTables", pattern, pos };
    }
    if (this.acceptKeyword("DATABASES")) return { kind: "showDatabases", pos };
    if (this.acceptKeyword("CREATE")) {
      this.expectKeyword("TABLE", "TABLE after SHOW CREATE");
      return { kind: "showCreateTable", table: this.parseTableName(), pos };
    }
    return this.fail("TABLES, DATABASES or CREATE TABLE after SHOW");
  }
}
