// MurmurHash3 x86 32-bit over the UTF-8 bytes of `${a}${b}`, the hash Unleash buckets users with.
// Encodes as it goes (no Buffer, no TextEncoder, no concatenation) so a bucket costs no allocation.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Hash of the UTF-8 encoding of a followed by b. Lone surrogates encode as U+FFFD, as TextEncoder does. */
// The running state lives at module level rather than in a closure so a hash allocates nothing
// (evaluation is synchronous, so no two hashes interleave).
let h1 = 0;
let k1 = 0; // bytes of the current block, little-endian
let filled = 0; // how many of k1's 4 bytes are set
let length = 0;

/** One byte into the block; a full block is mixed into h1. */
function push(byte: number): void {
  k1 |= byte << (filled << 3);
  filled++;
  length++;
  if (filled === 4) {
    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, C2);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    k1 = 0;
    filled = 0;
  }
}

export function murmur3(a: string, b: string, seed: number): number {
  h1 = seed | 0;
  k1 = 0;
  filled = 0;
  length = 0;

  for (let part = 0; part < 2; part++) {
    const s = part === 0 ? a : b;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        push(c);
        continue;
      }
      if (c < 0x800) {
        push(0xc0 | (c >> 6));
        push(0x80 | (c & 0x3f));
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          push(0xf0 | (c >> 18));
          push(0x80 | ((c >> 12) & 0x3f));
          push(0x80 | ((c >> 6) & 0x3f));
          push(0x80 | (c & 0x3f));
          continue;
        }
        c = 0xfffd;
      }
      push(0xe0 | (c >> 12));
      push(0x80 | ((c >> 6) & 0x3f));
      push(0x80 | (c & 0x3f));
    }
  }

  if (filled > 0) {
    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, C2);
    h1 ^= k1;
  }
  h1 ^= length;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

/** Unleash's seeds: 0 for a strategy's rollout bucket, 86028157 for a variant bucket. */
export const STRATEGY_SEED = 0;
export const VARIANT_SEED = 86028157;

/** Unleash's bucket of an id within a group, 1..normalizer; prefix is the group id and ':'. */
export function bucket(prefix: string, id: string, normalizer: number, seed: number): number {
  return (murmur3(prefix, id, seed) % normalizer) + 1;
}
