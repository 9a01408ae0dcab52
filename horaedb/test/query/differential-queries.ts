/**
 * Random SELECTs of the differential test (expressions come from differential-expressions.ts):
 * projections with WHERE, DISTINCT, GROUP BY, HAVING, ORDER BY and LIMIT/OFFSET, each written in
 * the engine's dialect and in SQLite's. How results are compared shapes the statements:
 *
 * - Every ORDER BY key says NULLS FIRST or LAST: the engine puts NULLs last for ASC, SQLite first.
 * - ORDER BY always ends in a total order (the primary key, the group keys, or every column of a
 *   DISTINCT), so LIMIT/OFFSET pick the same rows in both; never on an approximate value (sum or
 *   avg through doubles), and never on a constant, which both engines may read as a position.
 * - A query without ORDER BY is compared as a multiset; with LIMIT/OFFSET, SQLite runs it without
 *   them and the engine's rows must be as many of SQLite's as the clause allows.
 * - HAVING compares only exact aggregates (count, min, max, sum of integers).
 * - Some row queries order by the timestamp first, with a LIMIT (the engine reads them in time
 *   windows from the newest or oldest row on).
 */
import type { Rng } from "./differential-rng.js";
import {
  COMPARISONS,
  ExpressionGenerator,
  isNumeric,
  same,
  type Sql,
  type TableModel,
} from "./differential-expressions.js";
import { stringLiteral, TIMESTAMP_COLUMN } from "./differential-tables.js";

export interface GeneratedQuery {
  readonly table: string;
  readonly ours: string;
  readonly reference: string;
  /** ORDER BY makes the order total: compare row by row; otherwise as multisets. */
  readonly ordered: boolean;
  /**
   * LIMIT/OFFSET of a query without ORDER BY, which SQLite runs without them: the engine's rows
   * must be that many of SQLite's (any of them).
   */
  readonly unorderedLimit: { readonly limit: number | undefined; readonly offset: number } | undefined;
  /** Per result column: the absolute tolerance (0: must be equal; a relative 1e-9 is always allowed). */
  readonly tolerances: readonly number[];
}

export class QueryGenerator {
  readonly #rng: Rng;
  readonly #table: TableModel;
  readonly #e: ExpressionGenerator;

  constructor(rng: Rng, table: TableModel) {
    this.#rng = rng;
    this.#table = table;
    this.#e = new ExpressionGenerator(rng, table);
  }

  generate(): GeneratedQuery {
    return this.#rng.chance(0.5) ? this.#rowQuery() : this.#aggregateQuery();
  }

  /** A condition on the timestamp key in a form the scan can push down. */
  #timeRange(): Sql {
    const rng = this.#rng;
    const a = this.#e.timeValue();
    const b = a + rng.pick([1000, 60_000, 600_000, 3_600_000, 3 * 3_600_000]);
    const lit = (ms: number) => this.#e.timeLiteral(ms, true);
    const [lo, hi] = [lit(a), lit(b)];
    const ts = TIMESTAMP_COLUMN;
    switch (rng.int(0, 4)) {
      case 0:
        return {
          ours: `(${ts} >= ${lo.ours} AND ${ts} < ${hi.ours})`,
          ref: `(${ts} >= ${lo.ref} AND ${ts} < ${hi.ref})`,
          type: "boolean",
          bound: 0,
          tolerance: 0,
        };
      case 1:
        return {
          ours: `(${ts} BETWEEN ${lo.ours} AND ${hi.ours})`,
          ref: `(${ts} BETWEEN ${lo.ref} AND ${hi.ref})`,
          type: "boolean",
          bound: 0,
          tolerance: 0,
        };
      case 2: {
        const op = rng.pick([">", ">=", "<", "<=", "="]);
        return this.#e.binary(same(ts, "timestamp"), op, lo, "boolean", 0);
      }
      default: {
        const items = [
          lo,
          ...Array.from({ length: rng.int(0, 3) }, () => this.#e.timeLiteral(this.#e.timeValue(), false)),
        ];
        return {
          ours: `(${ts} IN (${items.map((s) => s.ours).join(", ")}))`,
          ref: `(${ts} IN (${items.map((s) => s.ref).join(", ")}))`,
          type: "boolean",
          bound: 0,
          tolerance: 0,
        };
      }
    }
  }

  /** A condition on a TAG in a form the scan can push down (or, negated, cannot). */
  #tagFilter(): Sql {
    const rng = this.#rng;
    const tag = rng.pick(this.#table.tags);
    const value = () => {
      const kind = rng.float();
      return kind < 0.05 ? "NULL" : stringLiteral(kind < 0.93 ? (rng.pick(tag.samples) as string) : "absent");
    };
    switch (rng.int(0, 3)) {
      case 0:
        return same(`(${tag.name} = ${value()})`, "boolean");
      case 1:
        return same(`(${tag.name} != ${value()})`, "boolean");
      default: {
        const values = Array.from({ length: rng.int(1, 3) }, value);
        return same(`(${tag.name} ${rng.chance(0.8) ? "IN" : "NOT IN"} (${values.join(", ")}))`, "boolean");
      }
    }
  }

  #where(): Sql {
    const rng = this.#rng;
    const parts: Sql[] = [];
    for (let n = rng.int(1, 3); n > 0; n--) {
      const kind = rng.float();
      parts.push(kind < 0.3 ? this.#timeRange() : kind < 0.55 ? this.#tagFilter() : this.#e.predicate(2));
    }
    return {
      ours: parts.map((p) => p.ours).join(" AND "),
      ref: parts.map((p) => p.ref).join(" AND "),
      type: "boolean",
      bound: 0,
      tolerance: 0,
    };
  }

  /** A grouping key: a tag, a time bucket, or a field or simple expression of one. */
  #groupKey(): Sql {
    const rng = this.#rng;
    const kind = rng.float();
    if (kind < 0.35) return same(rng.pick(this.#table.tags).name, "string");
    if (kind < 0.55) return this.#e.timeBucket();
    if (kind < 0.85) {
      const fields = this.#table.columns.filter((c) => !c.tag && c.name !== TIMESTAMP_COLUMN);
      const c = rng.pick(fields);
      return same(c.name, c.type, c.bound);
    }
    const string = this.#e.column("string") ?? same(rng.pick(this.#table.tags).name, "string");
    const int = this.#e.column("int") ?? this.#e.intLiteral(1);
    const double = this.#e.column("double") ?? this.#e.doubleLiteral(0.5);
    switch (rng.int(0, 2)) {
      case 0:
        return this.#e.call("lower", [string], "string", 0);
      case 1:
        return this.#e.binary(int, "%", this.#e.intLiteral(3), "int", 3);
      default:
        // round() of values on both sides of zero gives -0 and 0, which must fall in one group.
        return this.#e.call(
          "round",
          [this.#e.binary(double, "/", this.#e.doubleLiteral(100), "double", 10)],
          "double",
          10,
        );
    }
  }

  #havingPredicate(keys: readonly Sql[], depth: number): Sql {
    const rng = this.#rng;
    if (depth > 0 && rng.chance(0.3)) {
      const a = this.#havingPredicate(keys, depth - 1);
      const b = this.#havingPredicate(keys, depth - 1);
      return this.#e.binary(a, rng.pick(["AND", "OR"]), b, "boolean", 0);
    }
    if (keys.length > 0 && rng.chance(0.25)) {
      const key = rng.pick(keys);
      const right =
        key.type === "timestamp"
          ? this.#e.timeLiteral(this.#e.timeValue(), false)
          : this.#e.literal(key.type);
      const op = key.type === "boolean" ? rng.pick(["=", "!="]) : rng.pick(COMPARISONS);
      return this.#e.binary(key, op, right, "boolean", 0);
    }
    const agg = this.#e.aggregate(true);
    const op = agg.type === "boolean" ? rng.pick(["=", "!="]) : rng.pick(COMPARISONS);
    const right = agg.ours.startsWith("count")
      ? this.#e.intLiteral(rng.int(0, 4))
      : agg.type === "timestamp"
        ? this.#e.timeLiteral(this.#e.timeValue(), false)
        : this.#e.literal(agg.type);
    return this.#e.binary(agg, op, right, "boolean", 0);
  }

  #orderKey(item: Sql, position: number | undefined, alias: string | undefined): Sql {
    const rng = this.#rng;
    const direction = `${rng.pick(["ASC", "DESC"])} NULLS ${rng.pick(["FIRST", "LAST"])}`;
    const form = rng.int(0, 2);
    if ((form === 0 || !this.#e.readsColumn(item)) && position !== undefined) {
      return same(`${position} ${direction}`, item.type);
    }
    if (form === 1 && alias !== undefined) return same(`${alias} ${direction}`, item.type);
    return { ...item, ours: `${item.ours} ${direction}`, ref: `${item.ref} ${direction}` };
  }

  /** An expression to sort by that reads a column. */
  #sortExpr(): Sql {
    for (;;) {
      const e = this.#e.expr(this.#e.anyType(), 1);
      if (this.#e.readsColumn(e)) return e;
    }
  }

  /** A LIMIT/OFFSET clause in its several spellings (SQLite has no OFFSET without LIMIT). */
  #limit(): { ours: string; ref: string; limit: number | undefined; offset: number } {
    const rng = this.#rng;
    const n = rng.int(0, 25);
    const m = rng.chance(0.3) ? 0 : rng.int(0, 40);
    switch (rng.int(0, 4)) {
      case 0:
        return { ours: ` LIMIT ${n}`, ref: ` LIMIT ${n}`, limit: n, offset: 0 };
      case 1:
        return { ours: ` LIMIT ${n} OFFSET ${m}`, ref: ` LIMIT ${n} OFFSET ${m}`, limit: n, offset: m };
      case 2:
        return { ours: ` LIMIT ${m}, ${n}`, ref: ` LIMIT ${m}, ${n}`, limit: n, offset: m };
      case 3:
        return { ours: ` OFFSET ${m}`, ref: ` LIMIT -1 OFFSET ${m}`, limit: undefined, offset: m };
      default:
        return { ours: ` OFFSET ${m} LIMIT ${n}`, ref: ` LIMIT ${n} OFFSET ${m}`, limit: n, offset: m };
    }
  }

  #assemble(parts: {
    distinct: boolean;
    items: ReadonlyArray<{ sql: Sql; alias: string | undefined }>;
    where: Sql | undefined;
    groupBy: { ours: string; ref: string } | undefined;
    having: Sql | undefined;
    orderBy: readonly Sql[];
    ordered: boolean;
    /** Always add a LIMIT/OFFSET clause (otherwise half of the ordered queries get one). */
    limited?: boolean;
  }): GeneratedQuery {
    const rng = this.#rng;
    const render = (side: "ours" | "ref") => {
      const items = parts.items.map((i) => i.sql[side] + (i.alias === undefined ? "" : ` AS ${i.alias}`));
      let sql = `SELECT ${parts.distinct ? "DISTINCT " : ""}${items.join(", ")} FROM ${this.#table.name}`;
      if (parts.where !== undefined) sql += ` WHERE ${parts.where[side]}`;
      if (parts.groupBy !== undefined) sql += ` GROUP BY ${parts.groupBy[side]}`;
      if (parts.having !== undefined) sql += ` HAVING ${parts.having[side]}`;
      if (parts.orderBy.length > 0) sql += ` ORDER BY ${parts.orderBy.map((o) => o[side]).join(", ")}`;
      return sql;
    };
    let ours = render("ours");
    let ref = render("ref");
    let unorderedLimit: GeneratedQuery["unorderedLimit"];
    if (parts.ordered && (parts.limited === true || rng.chance(0.5))) {
      const limit = this.#limit();
      ours += limit.ours;
      ref += limit.ref;
    } else if (!parts.ordered && rng.chance(0.25)) {
      // Without ORDER BY any rows will do: SQLite returns them all, the engine's must be among them.
      const limit = this.#limit();
      ours += limit.ours;
      unorderedLimit = { limit: limit.limit, offset: limit.offset };
    }
    return {
      table: this.#table.name,
      ours,
      reference: ref,
      ordered: parts.ordered,
      unorderedLimit,
      tolerances: parts.items.map((i) => i.sql.tolerance),
    };
  }

  /** SELECT of columns and expressions per row, optionally DISTINCT. */
  #rowQuery(): GeneratedQuery {
    const rng = this.#rng;
    const distinct = rng.chance(0.15);
    const items: Array<{ sql: Sql; alias: string | undefined }> = [];
    for (let i = rng.int(1, 5); i > 0; i--) {
      const column = rng.pick(this.#table.columns);
      const sql = rng.chance(0.55) ? same(column.name, column.type) : this.#e.expr(this.#e.anyType(), 2);
      items.push({ sql, alias: rng.chance(0.25) ? `c${items.length}` : undefined });
    }
    const where = rng.chance(0.75) ? this.#where() : undefined;
    const orderBy: Sql[] = [];
    const ordered = rng.chance(0.75);
    const timeFirst = ordered && !distinct && rng.chance(0.25);
    if (ordered && distinct) {
      // Every column of a DISTINCT result in ORDER BY: distinct rows have a total order.
      for (const i of rng.shuffle(items.map((_, index) => index))) {
        const item = items[i] as (typeof items)[number];
        orderBy.push(this.#orderKey(item.sql, i + 1, item.alias));
      }
    } else if (ordered) {
      // ORDER BY the timestamp first (with a LIMIT): read in time windows from one end.
      if (timeFirst) {
        const i = items.findIndex((item) => item.sql.ours === TIMESTAMP_COLUMN);
        const item = items[i];
        orderBy.push(
          item === undefined
            ? this.#orderKey(same(TIMESTAMP_COLUMN, "timestamp"), undefined, undefined)
            : this.#orderKey(item.sql, i + 1, item.alias),
        );
      }
      for (let n = rng.int(0, 2); n > 0; n--) {
        const i = rng.int(0, items.length - 1);
        const item = items[i] as (typeof items)[number];
        orderBy.push(
          rng.chance(0.7)
            ? this.#orderKey(item.sql, i + 1, item.alias)
            : this.#orderKey(this.#sortExpr(), undefined, undefined),
        );
      }
      // The primary key (tags, ts) last: unique per row, so the order is total.
      const keys = rng.shuffle([...this.#table.tags.map((t) => t.name), TIMESTAMP_COLUMN]);
      for (const key of keys) orderBy.push(this.#orderKey(same(key, "string"), undefined, undefined));
    }
    return this.#assemble({
      distinct,
      items,
      where,
      groupBy: undefined,
      having: undefined,
      orderBy,
      ordered,
      limited: timeFirst,
    });
  }

  /** SELECT with aggregates, with or without GROUP BY. */
  #aggregateQuery(): GeneratedQuery {
    const rng = this.#rng;
    const keys: Sql[] = [];
    for (let n = rng.chance(0.2) ? 0 : rng.int(1, 3); n > 0; n--) {
      const key = this.#groupKey();
      if (!keys.some((k) => k.ours === key.ours)) keys.push(key);
    }
    const aggregates: Sql[] = [];
    for (let n = rng.int(1, 4); n > 0; n--) {
      if (aggregates.length > 0 && rng.chance(0.15)) {
        const a = this.#e.aggregate(true);
        const b = this.#e.aggregate(true);
        if (
          isNumeric(a.type) &&
          isNumeric(b.type) &&
          !a.ours.startsWith("sum") &&
          !b.ours.startsWith("sum")
        ) {
          const type = a.type === "int" && b.type === "int" ? "int" : "double";
          aggregates.push(this.#e.binary(a, rng.pick(["+", "-"]), b, type, a.bound + b.bound));
          continue;
        }
      }
      aggregates.push(this.#e.aggregate(false));
    }
    // Scalar functions of a key column are computed per group too.
    const keyColumns = keys.filter((k) => this.#table.columns.some((c) => c.name === k.ours));
    const perGroup: Sql[] = [];
    if (keyColumns.length > 0 && rng.chance(0.2)) {
      const key = rng.pick(keyColumns);
      if (key.type === "string") {
        perGroup.push(
          rng.chance(0.5)
            ? this.#e.call("upper", [key], "string", 0)
            : this.#e.call("length", [key], "int", 1e3),
        );
      } else if (key.type === "int")
        perGroup.push(this.#e.binary(key, "+", this.#e.intLiteral(1), "int", key.bound + 1));
      else if (key.type === "double")
        perGroup.push(this.#e.binary(key, "*", this.#e.doubleLiteral(2), "double", key.bound * 2));
    }
    const approximate = aggregates.some((a) => a.tolerance > 0);
    // Sometimes a key that is not selected: then the rows are not unique and only a multiset compares.
    const hidden = !approximate && keys.length > 1 && rng.chance(0.15) ? rng.pick(keys) : undefined;
    const items = rng.shuffle([
      ...keys.flatMap((sql, i) =>
        sql === hidden ? [] : [{ sql, alias: rng.chance(0.4) ? `g${i}` : undefined, key: true }],
      ),
      ...[...aggregates, ...perGroup].map((sql, i) => ({
        sql,
        alias: rng.chance(0.3) ? `a${i}` : undefined,
        key: false,
      })),
    ]);
    const where = rng.chance(0.6) ? this.#where() : undefined;
    let groupBy: { ours: string; ref: string } | undefined;
    if (keys.length > 0) {
      const form = rng.int(0, 2);
      const entries = items.flatMap((item, i) => {
        if (!item.key) return [];
        if (form === 0) return [same(String(i + 1), item.sql.type)];
        if (form === 1 && item.alias !== undefined) return [same(item.alias, item.sql.type)];
        return [item.sql];
      });
      if (hidden !== undefined) entries.push(hidden);
      const shuffled = rng.shuffle(entries);
      groupBy = { ours: shuffled.map((e) => e.ours).join(", "), ref: shuffled.map((e) => e.ref).join(", ") };
    }
    const having = rng.chance(0.25) ? this.#havingPredicate(keys, 1) : undefined;
    // Without GROUP BY there is at most one row: any ORDER BY is total.
    const ordered = keys.length === 0 || (hidden === undefined && rng.chance(0.7));
    const orderBy: Sql[] = [];
    if (ordered && keys.length > 0) {
      const exact = items.filter((item) => !item.key && item.sql.tolerance === 0);
      if (exact.length > 0 && rng.chance(0.4)) {
        const item = rng.pick(exact);
        orderBy.push(this.#orderKey(item.sql, items.indexOf(item) + 1, item.alias));
      } else if (rng.chance(0.2)) {
        // An aggregate that is not selected: computed as a hidden column.
        orderBy.push(this.#orderKey(this.#e.aggregate(true), undefined, undefined));
      }
      for (const item of rng.shuffle(items.filter((i) => i.key))) {
        orderBy.push(this.#orderKey(item.sql, items.indexOf(item) + 1, item.alias));
      }
    }
    return this.#assemble({ distinct: false, items, where, groupBy, having, orderBy, ordered });
  }
}
