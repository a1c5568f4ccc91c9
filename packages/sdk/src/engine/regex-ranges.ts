// Code-point sets for the RE2 translation (regex.ts): RE2's POSIX and Perl classes (ASCII),
// case folding, complement, and how a set is written in a JavaScript unicode-mode class.

export type Range = [number, number];
export const POSIX: Record<string, Range[]> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a], [0x5f, 0x5f]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};
// RE2's Perl classes are ASCII-only (JavaScript's \s is Unicode).
export const PERL: Record<string, Range[]> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: POSIX.word as Range[],
};
// Case-folding orbits that upper/lower case alone do not reach (Kelvin, long s, Ångström, sigma).
const ORBITS: number[][] = [[0x6b, 0x4b, 0x212a], [0x73, 0x53, 0x17f], [0xe5, 0xc5, 0x212b], [0x3c3, 0x3a3, 0x3c2]];

export function cp(n: number): string {
  return `\\u{${n.toString(16)}}`;
}

export function caseVariants(code: number): number[] {
  const out = new Set([code]);
  const s = String.fromCodePoint(code);
  for (const t of [s.toLowerCase(), s.toUpperCase()]) {
    const c = t.codePointAt(0) as number;
    if (t.length === String.fromCodePoint(c).length) out.add(c);
  }
  for (const orbit of ORBITS) if (orbit.includes(code)) for (const c of orbit) out.add(c);
  return [...out];
}

export function merge(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function complement(ranges: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of merge(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

/** The ranges with every code point's case variants added (ranges too large to walk kept as they are). */
export function foldRanges(ranges: Range[]): Range[] {
  const out: Range[] = [...ranges];
  for (const [lo, hi] of ranges) {
    if (hi - lo > 0x3000) continue;
    for (let c = lo; c <= hi; c++) for (const v of caseVariants(c)) if (v !== c) out.push([v, v]);
  }
  return merge(out);
}

export function rangesBody(ranges: Range[]): string {
  return merge(ranges).map(([lo, hi]) => (lo === hi ? cp(lo) : `${cp(lo)}-${cp(hi)}`)).join('');
}

const GENERAL_CATEGORY = /^(?:[LMNPSZC][a-z]?|L&)$/;

/** \p{name} (or \P) in JavaScript: general categories as they are, other names as scripts. */
export function unicodeClass(name: string, negated: boolean): string {
  let n = name;
  let neg = negated;
  if (n.startsWith('^')) {
    n = n.slice(1);
    neg = !neg;
  }
  if (n === 'Any') return neg ? '[^\\s\\S]' : '[\\s\\S]';
  const prop = GENERAL_CATEGORY.test(n) ? (n === 'L&' ? 'LC' : n) : `Script=${n}`;
  return `${neg ? '\\P' : '\\p'}{${prop}}`;
}
