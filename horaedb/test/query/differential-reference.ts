/** The reference engine of the differential test: SQLite (sql.js, WebAssembly) in memory. */
import initSqlJs, { type Database, type SqlJsConfig, type SqlValue, type Statement } from "sql.js";

/** A cell as SQLite returns it with `useBigInt`: INTEGER as bigint, REAL as number. */
export type ReferenceCell = SqlValue | bigint;

interface ReferenceConfig extends SqlJsConfig {
  /** false: SQLite's own math functions (ceil of an integer stays an integer), not sql.js's legacy ones. */
  readonly useOldExtensionFunctions: boolean;
}

/** `Statement.get` with the row options sql.js 1.16 has and its typings do not declare yet. */
interface BigIntRowReader {
  get(params: null, config: { readonly useBigInt: boolean }): ReferenceCell[];
}

export class ReferenceDatabase {
  private constructor(readonly db: Database) {}

  static async open(): Promise<ReferenceDatabase> {
    const config: ReferenceConfig = { useOldExtensionFunctions: false };
    const SQL = await initSqlJs(config);
    const db = new SQL.Database();
    // LIKE as the engine has it: case-sensitive (SQLite's default folds ASCII case).
    db.run("PRAGMA case_sensitive_like = ON");
    return new ReferenceDatabase(db);
  }

  /** The rows of one SELECT; integers come back as bigint so int64 values stay exact. */
  query(sql: string): ReferenceCell[][] {
    const statement: Statement = this.db.prepare(sql);
    try {
      const rows: ReferenceCell[][] = [];
      const reader = statement as unknown as BigIntRowReader;
      while (statement.step()) rows.push(reader.get(null, { useBigInt: true }));
      return rows;
    } finally {
      statement.free();
    }
  }

  close(): void {
    this.db.close();
  }
}
