/**
 * Assigns group ids to rows by the values of their key columns. Each key column has a dictionary
 * of its distinct values (one code per value, NULL included); a row's group is found from its
 * codes: with one key the code is the group id, with more the tuple of codes is looked up in an
 * open-addressing hash table of int32 slots. Rows of a batch repeat keys in runs (a series' tags,
 * a time bucket), so a row whose codes equal the previous row's group reuses it without a lookup.
 */
import { allocateValues, type Column } from "../../batch/column.js";
import { DataType } from "../../table/data-type.js";
import { isNumberBacked } from "../types.js";
import type { IndexedValues } from "../vectors.js";

/** Values of the number-backed types: timestamp, double, float, int32, boolean. */
type NumberValues = Float64Array | Float32Array | Int32Array | Uint8Array;

/** Distinct values of one key column, with dense codes in first-seen order. */
class KeyDictionary {
  readonly #codes = new Map<unknown, number>();
  /** The value of each code (null for the NULL code), as the column holds values. */
  readonly values: unknown[] = [];
  #nullCode = -1;
  bytes = 0;

  constructor(readonly type: DataType) {}

  get size(): number {
    return this.values.length;
  }

  /** Writes the code of each row's value to `out`. */
  encode(column: Column, n: number, out: Int32Array): void {
    // One loop per kind of values array keeps each loop's element loads monomorphic.
    if (isNumberBacked(this.type))
      this.#encodeNumbers(column.values as NumberValues, column.validity, n, out);
    else if (this.type === DataType.String)
      this.#encodeStrings(column.values as string[], column.validity, n, out);
    else this.#encodeOthers(column.values, column.validity, n, out);
  }

  #encodeNumbers(values: NumberValues, validity: Uint8Array | null, n: number, out: Int32Array): void {
    let previous = NaN;
    let previousCode = -1;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) {
        out[i] = this.#nullCode >= 0 ? this.#nullCode : this.#addNull();
        continue;
      }
      const value = values[i] as number;
      // NaN never equals the previous value, so it always takes the lookup.
      if (value === previous) {
        out[i] = previousCode;
        continue;
      }
      previous = value;
      previousCode = this.#codeOf(value, value);
      out[i] = previousCode;
    }
  }

  #encodeStrings(values: string[], validity: Uint8Array | null, n: number, out: Int32Array): void {
    let previous: string | undefined;
    let previousCode = -1;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) {
        out[i] = this.#nullCode >= 0 ? this.#nullCode : this.#addNull();
        continue;
      }
      const value = values[i] as string;
      if (value === previous) {
        out[i] = previousCode;
        continue;
      }
      previous = value;
      previousCode = this.#codeOf(value, value);
      out[i] = previousCode;
    }
  }

  /** bigints (int64, uint64) and byte arrays (looked up by their hex text). */
  #encodeOthers(values: IndexedValues, validity: Uint8Array | null, n: number, out: Int32Array): void {
    const binary = this.type === DataType.Varbinary;
    for (let i = 0; i < n; i++) {
      if (validity !== null && validity[i] === 0) {
        out[i] = this.#nullCode >= 0 ? this.#nullCode : this.#addNull();
        continue;
      }
      const raw = values[i];
      out[i] = this.#codeOf(binary ? Buffer.from(raw as Uint8Array).toString("hex") : raw, raw);
    }
  }

  /** The code of a value (`lookup` is how the map knows it), added when new. */
  #codeOf(lookup: unknown, value: unknown): number {
    let code = this.#codes.get(lookup);
    if (code === undefined) {
      code = this.values.length;
      this.#codes.set(lookup, code);
      this.values.push(value);
      this.bytes += typeof lookup === "string" ? 56 + 2 * lookup.length : 56;
    }
    return code;
  }

  #addNull(): number {
    this.#nullCode = this.values.length;
    this.values.push(null);
    this.bytes += 16;
    return this.#nullCode;
  }

  /** A column of the values of `codes[0..count)`. */
  column(codes: ArrayLike<number>, count: number): Column {
    const out = allocateValues(this.type, count);
    const dst = out as IndexedValues;
    let validity: Uint8Array | null = null;
    for (let g = 0; g < count; g++) {
      const code = codes[g] as number;
      if (code === this.#nullCode) {
        validity ??= new Uint8Array(count).fill(1);
        validity[g] = 0;
        continue;
      }
      dst[g] = this.values[code];
    }
    return { type: this.type, values: out, validity };
  }
}

/** Codes of one key per group, growing by doubling. */
class GroupCodes {
  codes = new Int32Array(16);
  set(group: number, code: number): void {
    if (group >= this.codes.length) {
      const next = new Int32Array(this.codes.length * 2);
      next.set(this.codes);
      this.codes = next;
    }
    this.codes[group] = code;
  }
}

const INITIAL_SLOTS = 1024;

/** Whether rows `a` and `b` have the same code in each of the `m` keys. */
function sameCodes(codes: readonly Int32Array[], m: number, a: number, b: number): boolean {
  for (let k = 0; k < m; k++) {
    const c = codes[k] as Int32Array;
    if (c[a] !== c[b]) return false;
  }
  return true;
}

export class GroupKeyTable {
  readonly #dictionaries: KeyDictionary[];
  /** Per key, the code of each group (two or more keys only). */
  readonly #groupCodes: GroupCodes[];
  /** Open-addressing hash table over the groups' codes: group id + 1 per slot, 0 when empty. */
  #slots = new Int32Array(INITIAL_SLOTS);
  #numGroups: number;
  #rowCodes: Int32Array[] = [];
  #groupIds = new Int32Array(0);

  constructor(readonly keyTypes: readonly DataType[]) {
    this.#dictionaries = keyTypes.map((t) => new KeyDictionary(t));
    this.#groupCodes = keyTypes.map(() => new GroupCodes());
    // Without keys there is exactly one group, even for no rows at all.
    this.#numGroups = keyTypes.length === 0 ? 1 : 0;
  }

  get numGroups(): number {
    return this.#numGroups;
  }

  /**
   * The group id of each of the first `n` rows, creating groups for new keys. The returned
   * array is overwritten by the next call.
   */
  assign(keys: readonly Column[], n: number): Int32Array {
    if (this.#groupIds.length < n) {
      this.#groupIds = new Int32Array(n);
      this.#rowCodes = this.#dictionaries.map(() => new Int32Array(n));
    }
    const ids = this.#groupIds;
    const m = this.#dictionaries.length;
    if (m === 0) {
      ids.fill(0, 0, n);
      return ids.subarray(0, n);
    }
    this.#dictionaries.forEach((d, k) => d.encode(keys[k] as Column, n, this.#rowCodes[k] as Int32Array));
    if (m === 1) {
      ids.set((this.#rowCodes[0] as Int32Array).subarray(0, n));
      this.#numGroups = (this.#dictionaries[0] as KeyDictionary).size;
      return ids.subarray(0, n);
    }
    this.#assignComposite(n, ids);
    return ids.subarray(0, n);
  }

  #assignComposite(n: number, ids: Int32Array): void {
    const rowCodes = this.#rowCodes;
    const m = rowCodes.length;
    let previous = -1;
    for (let i = 0; i < n; i++) {
      if (i > 0 && sameCodes(rowCodes, m, i - 1, i)) {
        ids[i] = previous;
        continue;
      }
      let hash = 0;
      for (let k = 0; k < m; k++)
        hash = Math.imul(hash ^ ((rowCodes[k] as Int32Array)[i] as number), 0x9e3779b1);
      const mask = this.#slots.length - 1;
      let slot = (hash ^ (hash >>> 15)) & mask;
      let group: number;
      for (;;) {
        const entry = this.#slots[slot] as number;
        if (entry === 0) {
          group = this.#numGroups++;
          for (let k = 0; k < m; k++)
            (this.#groupCodes[k] as GroupCodes).set(group, (rowCodes[k] as Int32Array)[i] as number);
          this.#slots[slot] = group + 1;
          // Keep the table at most half full, so probe runs stay short.
          if (2 * this.#numGroups > this.#slots.length) this.#rehash(2 * this.#slots.length);
          break;
        }
        if (this.#groupHasRow(entry - 1, i)) {
          group = entry - 1;
          break;
        }
        slot = (slot + 1) & mask;
      }
      previous = group;
      ids[i] = group;
    }
  }

  /** Whether group `group` has the key codes of row `row`. */
  #groupHasRow(group: number, row: number): boolean {
    const m = this.#rowCodes.length;
    for (let k = 0; k < m; k++) {
      if ((this.#groupCodes[k] as GroupCodes).codes[group] !== (this.#rowCodes[k] as Int32Array)[row])
        return false;
    }
    return true;
  }

  #rehash(size: number): void {
    const slots = new Int32Array(size);
    const mask = size - 1;
    const m = this.#groupCodes.length;
    for (let g = 0; g < this.#numGroups; g++) {
      let hash = 0;
      for (let k = 0; k < m; k++)
        hash = Math.imul(hash ^ ((this.#groupCodes[k] as GroupCodes).codes[g] as number), 0x9e3779b1);
      let slot = (hash ^ (hash >>> 15)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = g + 1;
    }
    this.#slots = slots;
  }

  /** The key values of every group, one column per key, in group id order. */
  keyColumns(): Column[] {
    const count = this.#numGroups;
    if (this.#dictionaries.length === 1) {
      const identity = new Int32Array(count);
      for (let g = 0; g < count; g++) identity[g] = g;
      return [(this.#dictionaries[0] as KeyDictionary).column(identity, count)];
    }
    return this.#dictionaries.map((d, k) => d.column((this.#groupCodes[k] as GroupCodes).codes, count));
  }

  /** Approximate bytes held: dictionaries, per-group codes and the hash table. */
  byteSize(): number {
    let bytes = 0;
    for (const d of this.#dictionaries) bytes += d.bytes;
    if (this.#dictionaries.length > 1)
      bytes += this.#numGroups * 4 * this.#dictionaries.length + this.#slots.byteLength;
    return bytes;
  }
}
