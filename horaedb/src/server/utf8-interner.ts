/**
 * Dense codes for UTF-8 strings given as byte ranges, in order of first appearance. Tag values
 * repeat a few distinct strings over many rows, so the bytes are hashed where they lie (a request
 * buffer, an Arrow data buffer) and only the first occurrence of each value is decoded to a string.
 */
export class Utf8Interner {
  /** The distinct strings; code `i` is `values[i]`. */
  readonly values: string[] = [];
  /** Open addressing: entry index + 1 per slot, 0 when empty. */
  #slots: Int32Array;
  #hashes: Int32Array;
  /** Where each entry's bytes lie in `#pool`. */
  #starts: Int32Array;
  #pool: Uint8Array;
  #source: Uint8Array | undefined;
  #sourceText: Buffer | undefined;

  /** `expected`: about how many distinct values are coming, so the tables are sized once. */
  constructor(expected = 0) {
    const entries = Math.max(16, expected + 1);
    this.#slots = new Int32Array(2 ** Math.ceil(Math.log2(entries * 2 + 1)));
    this.#hashes = new Int32Array(entries);
    this.#starts = new Int32Array(entries + 1);
    this.#pool = new Uint8Array(entries * 16);
  }

  get size(): number {
    return this.values.length;
  }

  /** The code of the UTF-8 bytes `bytes[start, end)`, adding them if they are new. */
  intern(bytes: Uint8Array, start: number, end: number): number {
    let hash = 0x811c9dc5 ^ (end - start);
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193);
    const slots = this.#slots;
    const mask = slots.length - 1;
    let slot = (hash ^ (hash >>> 15)) & mask;
    for (;;) {
      const entry = (slots[slot] as number) - 1;
      if (entry < 0) break;
      if (this.#hashes[entry] === hash && this.#equals(entry, bytes, start, end)) return entry;
      slot = (slot + 1) & mask;
    }
    return this.#add(slot, hash, bytes, start, end);
  }

  #equals(entry: number, bytes: Uint8Array, start: number, end: number): boolean {
    const from = this.#starts[entry] as number;
    if ((this.#starts[entry + 1] as number) - from !== end - start) return false;
    const pool = this.#pool;
    for (let i = 0; i < end - start; i++) if (pool[from + i] !== bytes[start + i]) return false;
    return true;
  }

  #add(slot: number, hash: number, bytes: Uint8Array, start: number, end: number): number {
    const entry = this.values.length;
    if (entry + 1 >= this.#hashes.length) {
      this.#hashes = grow(this.#hashes, this.#hashes.length * 2);
      this.#starts = grow(this.#starts, this.#starts.length * 2);
    }
    const from = this.#starts[entry] as number;
    const to = from + (end - start);
    if (to > this.#pool.length) this.#pool = grow(this.#pool, Math.max(this.#pool.length * 2, to));
    this.#pool.set(bytes.subarray(start, end), from);
    this.#starts[entry + 1] = to;
    this.#hashes[entry] = hash;
    this.#slots[slot] = entry + 1;
    this.values.push(this.#decode(bytes, start, end));
    // Keep the table at most half full so probes stay short.
    if (this.values.length * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    return entry;
  }

  #decode(bytes: Uint8Array, start: number, end: number): string {
    if (this.#source !== bytes) {
      this.#source = bytes;
      this.#sourceText = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return (this.#sourceText as Buffer).toString("utf8", start, end);
  }

  #rehash(capacity: number): void {
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let entry = 0; entry < this.values.length; entry++) {
      const hash = this.#hashes[entry] as number;
      let slot = (hash ^ (hash >>> 15)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.#slots = slots;
  }
}

const EMPTY = new Uint8Array(0);

/** The code of the empty string (the placeholder of null rows) in `interner`. */
export function emptyStringCode(interner: Utf8Interner): number {
  return interner.intern(EMPTY, 0, 0);
}

function grow<T extends Int32Array | Uint8Array>(array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array);
  return next;
}
