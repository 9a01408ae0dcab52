/**
 * Builds the dictionary of a Utf8 column from its Arrow buffers: each value's bytes are hashed where
 * they lie and looked up among the distinct values so far, so no string is made per row. Tag
 * columns repeat a few values over many rows, which makes the dictionary form several times
 * smaller to send and lets the server take the codes as they are.
 */
export class Utf8DictionaryBuilder {
  /** Open addressing: entry index + 1 per slot, 0 when empty. */
  #slots = new Int32Array(64);
  #hashes = new Int32Array(16);
  /** Entry `i`'s bytes are `#bytes[#offsets[i], #offsets[i + 1])`: the dictionary's Utf8 layout. */
  #offsets = new Int32Array(17);
  #bytes = new Uint8Array(256);
  #size = 0;

  /** Distinct values so far. */
  get size(): number {
    return this.#size;
  }

  /** The index of the UTF-8 bytes `bytes[start, end)`, adding them if they are new. */
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

  /** The dictionary in Arrow's Utf8 layout: `size + 1` offsets into `bytes`. */
  finish(): { readonly offsets: Int32Array; readonly bytes: Uint8Array; readonly size: number } {
    const size = this.#size;
    const offsets = this.#offsets.slice(0, size + 1);
    return { offsets, bytes: this.#bytes.slice(0, offsets[size]), size };
  }

  #equals(entry: number, bytes: Uint8Array, start: number, end: number): boolean {
    const from = this.#offsets[entry] as number;
    if ((this.#offsets[entry + 1] as number) - from !== end - start) return false;
    const own = this.#bytes;
    for (let i = 0; i < end - start; i++) if (own[from + i] !== bytes[start + i]) return false;
    return true;
  }

  #add(slot: number, hash: number, bytes: Uint8Array, start: number, end: number): number {
    const entry = this.#size++;
    if (entry + 1 >= this.#hashes.length) {
      this.#hashes = grow(this.#hashes, this.#hashes.length * 2);
      this.#offsets = grow(this.#offsets, this.#offsets.length * 2);
    }
    const from = this.#offsets[entry] as number;
    const to = from + (end - start);
    if (to > this.#bytes.length) this.#bytes = grow(this.#bytes, Math.max(this.#bytes.length * 2, to));
    this.#bytes.set(bytes.subarray(start, end), from);
    this.#offsets[entry + 1] = to;
    this.#hashes[entry] = hash;
    this.#slots[slot] = entry + 1;
    // Keep the table at most half full so probes stay short.
    if (this.#size * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    return entry;
  }

  #rehash(capacity: number): void {
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let entry = 0; entry < this.#size; entry++) {
      const hash = this.#hashes[entry] as number;
      let slot = (hash ^ (hash >>> 15)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.#slots = slots;
  }
}

function grow<T extends Int32Array | Uint8Array>(array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array);
  return next;
}
