/**
 * The `rollgate-flags` response header: which flag variants a request was served with, for the
 * Rollgate router to count per (flag, variant) and strip before the response leaves.
 *
 * Format: `rollgate-flags: <flag>=<variant>, <flag>=<variant>[, +N]`. Both names are
 * percent-encoded as UTF-8 (encodeURIComponent, so `,`, `=`, spaces and non-ASCII never appear
 * raw; a lone surrogate becomes U+FFFD first). Bounded: at most MAX_FLAG_PAIRS pairs and
 * MAX_FLAGS_HEADER_BYTES bytes; pairs beyond either bound are left out, in the order they were
 * recorded (first kept), and a last element `+N` says how many were left out.
 */

export const FLAGS_HEADER = 'rollgate-flags';
export const MAX_FLAG_PAIRS = 16;
export const MAX_FLAGS_HEADER_BYTES = 1024;

/** encodeURIComponent that never throws: lone surrogates are replaced rather than refused. */
export function encodeName(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
  }
}

/** The header value for flag -> variant pairs in recording order; null when there is none. */
export function formatFlagsHeader(pairs: Iterable<readonly [string, string]>): string | null {
  let out = '';
  let kept = 0;
  let dropped = 0;
  for (const [flag, variant] of pairs) {
    const item = `${encodeName(flag)}=${encodeName(variant)}`;
    const next = kept === 0 ? item : `${out}, ${item}`;
    // Leave room for the `, +N` marker (at most 2 + 1 + 10 characters) in the byte bound.
    if (kept >= MAX_FLAG_PAIRS || next.length > MAX_FLAGS_HEADER_BYTES - 13) {
      dropped++;
      continue;
    }
    out = next;
    kept++;
  }
  if (dropped > 0) out = kept === 0 ? `+${dropped}` : `${out}, +${dropped}`;
  return out === '' ? null : out;
}
