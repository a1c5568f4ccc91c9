/** The `since` of a DORA query: a look-back like `90d`, `12w`, `36h`, or an ISO date/time. */
import { RollgateError } from '../core/errors.js';

const LOOKBACK_RE = /^(\d{1,5})(h|d|w)$/;
const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export const DEFAULT_SINCE = '90d';

/** Whether `text` is something parseSince accepts (for schema refinements). */
export function isSince(text: string): boolean {
  const m = LOOKBACK_RE.exec(text);
  if (m) return Number(m[1]) > 0;
  return ISO_RE.test(text) && Number.isFinite(Date.parse(text));
}

/**
 * The start of the window ending at `now`. A bare date is midnight UTC. Throws invalid_input
 * saying what to write; a start at or after `now` is refused (it would measure nothing).
 */
export function parseSince(text: string, now: Date): Date {
  const t = text.trim();
  const m = LOOKBACK_RE.exec(t);
  let start: Date;
  if (m) start = new Date(now.getTime() - Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
  else if (ISO_RE.test(t) && Number.isFinite(Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t))) {
    start = new Date(Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t));
  } else {
    throw new RollgateError('invalid_input', `since: "${text.slice(0, 60)}" is neither a look-back nor a date; write e.g. 90d, 12w, 36h or 2024-01-31`);
  }
  if (start.getTime() >= now.getTime()) {
    throw new RollgateError('invalid_input', `since: ${start.toISOString()} is not in the past; give an earlier date or a look-back such as 30d`);
  }
  return start;
}
