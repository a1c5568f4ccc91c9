// Semantic versions as Unleash's Node client reads them (node-semver, strict mode): an optional
// leading "v", surrounding whitespace trimmed, at most 256 characters, build metadata ignored.

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Numeric identifiers as numbers, others as strings; empty for a release. */
  pre: (string | number)[];
}

const NUM = '0|[1-9]\\d*';
const PRE_ID = `(?:\\d*[a-zA-Z-][a-zA-Z0-9-]*|${NUM})`;
const FULL = new RegExp(
  `^v?(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)*)?$`,
);
const DIGITS = /^[0-9]+$/;

export function parseSemver(text: string): SemVer | undefined {
  if (text.length > 256) return undefined;
  const m = FULL.exec(text.trim());
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const patch = Number(m[3]);
  if (major > Number.MAX_SAFE_INTEGER || minor > Number.MAX_SAFE_INTEGER || patch > Number.MAX_SAFE_INTEGER) {
    return undefined;
  }
  const pre = m[4]
    ? m[4].split('.').map((id) => (DIGITS.test(id) && Number(id) < Number.MAX_SAFE_INTEGER ? Number(id) : id))
    : [];
  return { major, minor, patch, pre };
}

function compareIds(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === 'number') return -1; // numeric identifiers sort before alphanumeric ones
  if (typeof b === 'number') return 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** -1, 0 or 1 as a is lower, equal or higher in precedence than b. */
export function compareSemver(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  const ap = a.pre;
  const bp = b.pre;
  if (ap.length === 0 || bp.length === 0) return ap.length === bp.length ? 0 : ap.length === 0 ? 1 : -1;
  for (let i = 0; ; i++) {
    const x = ap[i];
    const y = bp[i];
    if (x === undefined && y === undefined) return 0;
    if (y === undefined) return 1;
    if (x === undefined) return -1;
    const c = compareIds(x, y);
    if (c !== 0) return c;
  }
}
