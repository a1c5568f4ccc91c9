/**
 * A quick "can any pattern occur in this text?" before the full scan (Wu-Manber's shift table
 * over 2-grams of the patterns' first `m` characters, m = the shortest pattern). Most log lines
 * hold no secret: for them this reads about one 2-gram every m-1 characters instead of every
 * character. A `true` is only a maybe (the full scan decides); a `false` is certain.
 */

const BITS = 12;
const SIZE = 1 << BITS;

const gram = (a: number, b: number) => ((a << 5) ^ b) & (SIZE - 1);

export class SkipFilter {
  private readonly shift: Uint8Array;
  /** Pairs (first 2-gram, last 2-gram) of the patterns' m-prefixes: a cheap second check at a shift of 0. */
  private readonly ends = new Set<number>();
  private readonly m: number;
  /** Mean shift over the table: below a few characters the filter costs more than it saves. */
  readonly meanShift: number;

  constructor(patterns: readonly string[]) {
    const lengths = patterns.map((p) => p.length).filter((n) => n >= 2);
    this.m = Math.min(255, lengths.length ? Math.min(...lengths) : 0);
    this.shift = new Uint8Array(SIZE).fill(Math.max(0, this.m - 1));
    for (const p of patterns) {
      if (p.length < 2) continue;
      for (let q = 1; q < this.m; q++) {
        const h = gram(p.charCodeAt(q - 1), p.charCodeAt(q));
        this.shift[h] = Math.min(this.shift[h]!, this.m - 1 - q);
      }
      this.ends.add(gram(p.charCodeAt(0), p.charCodeAt(1)) * SIZE + gram(p.charCodeAt(this.m - 2), p.charCodeAt(this.m - 1)));
    }
    let sum = 0;
    for (const s of this.shift) sum += s;
    this.meanShift = this.m < 2 ? 0 : sum / SIZE;
  }

  /** False: no pattern occurs in `text` (certain). True: one may. */
  mayMatch(text: string): boolean {
    const m = this.m;
    if (m < 2) return true;
    const n = text.length;
    const shift = this.shift;
    let i = m - 1;
    while (i < n) {
      const h = gram(text.charCodeAt(i - 1), text.charCodeAt(i));
      const s = shift[h]!;
      if (s > 0) {
        i += s;
        continue;
      }
      const start = i - m + 1;
      if (this.ends.has(gram(text.charCodeAt(start), text.charCodeAt(start + 1)) * SIZE + h)) return true;
      i++;
    }
    return false;
  }
}
