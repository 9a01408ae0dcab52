/**
 * A Bloom filter of the values of a TAG column in one row group, kept in SstMeta beside min/max
 * when the row group holds too many distinct values to list them. Rows sorted by series put a
 * random set of hosts in each row group (series ids are hashes), so min/max of such a column spans
 * nearly every value and prunes nothing; the filter rules a row group out for a wanted value it
 * does not hold, but for about 1 in 100 values.
 *
 * Format (part of the SST format, so fixed): `bits` is the bit array, base64, bit i at byte i >> 3,
 * bit i & 7; its length in bits is a multiple of 8 and at least 64. A value sets `hashes` bits:
 * for i in [0, hashes), ((h1 + i * h2) mod 2^32) mod length, where h1 is the 32-bit FNV-1a hash of
 * the value's UTF-16 code units (each mixed in as two bytes, low byte first) and h2 is h1 through
 * MurmurHash3's finalizer, made odd. About 10 bits and 7 hashes per value give under 1% false
 * positives.
 */

export interface TagBloom {
  readonly hashes: number;
  /** The bit array, base64. */
  readonly bits: string;
}

const BITS_PER_VALUE = 10;
const HASHES = 7;
const MIN_BITS = 64;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The filter of `values` (distinct or not). */
export function buildTagBloom(values: Iterable<string>, count: number): TagBloom {
  const length = Math.max(MIN_BITS, Math.ceil((count * BITS_PER_VALUE) / 8) * 8);
  const bits = new Uint8Array(length / 8);
  for (const value of values) {
    forEachPosition(value, HASHES, length, (bit) => {
      bits[bit >> 3] = (bits[bit >> 3] as number) | (1 << (bit & 7));
    });
  }
  return {
    hashes: HASHES,
    bits: Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength).toString("base64"),
  };
}

/** The decoded bit arrays, per filter object (filters live as long as their SstMeta). */
const decoded = new WeakMap<TagBloom, Uint8Array>();

/** False when `value` is certainly not among the filter's values. */
export function tagBloomMayContain(bloom: TagBloom, value: string): boolean {
  let bits = decoded.get(bloom);
  if (bits === undefined) {
    bits = Uint8Array.from(Buffer.from(bloom.bits, "base64"));
    decoded.set(bloom, bits);
  }
  const array = bits;
  let all = true;
  forEachPosition(value, bloom.hashes, array.length * 8, (bit) => {
    if ((((array[bit >> 3] as number) >> (bit & 7)) & 1) === 0) all = false;
  });
  return all;
}

/** Whether `bloom` is well formed (see the module comment); for parsing SstMeta. */
export function isValidTagBloom(bloom: TagBloom): boolean {
  if (!Number.isInteger(bloom.hashes) || bloom.hashes < 1 || bloom.hashes > 32) return false;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(bloom.bits)) return false;
  const bytes = Buffer.from(bloom.bits, "base64");
  return bytes.length * 8 >= MIN_BITS && bytes.toString("base64") === bloom.bits;
}

function forEachPosition(value: string, hashes: number, length: number, at: (bit: number) => void): void {
  let h = FNV_OFFSET;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    h = Math.imul(h ^ (unit & 0xff), FNV_PRIME);
    h = Math.imul(h ^ (unit >>> 8), FNV_PRIME);
  }
  const h1 = h >>> 0;
  const h2 = (mix32(h1) | 1) >>> 0;
  for (let i = 0; i < hashes; i++) at(((h1 + Math.imul(i, h2)) >>> 0) % length);
}

/** The finalizer of MurmurHash3: spreads every input bit over the output. */
function mix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
