/**
 * `rollgate logs --since 10m --grep TEXT`: which lines to show. `--since` is a duration back
 * from now (30s, 10m, 2h, 1d) or an ISO time; `--grep` a plain substring, or /regex/flags.
 */
import { DURATION_RE, parseDuration } from '../core/duration.js';
import type { LogLine } from '../api/contract.js';
import { UsageError } from './exit.js';

const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** The earliest time shown, as an ISO string (the lines' own format, so strings compare). */
export function parseLogSince(text: string, now = Date.now()): string {
  const t = text.trim();
  if (DURATION_RE.test(t)) return new Date(now - parseDuration(t, '--since')).toISOString();
  if (ISO_RE.test(t)) {
    const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t);
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
  }
  throw new UsageError(`--since "${t.slice(0, 60)}": give a duration back from now (30s, 10m, 2h, 1d) or an ISO time such as 2024-05-01T12:00:00Z`);
}

/** A predicate on a line's text: substring (case-sensitive), or /regex/flags. */
export function parseGrep(text: string): (line: string) => boolean {
  const m = /^\/(.*)\/([dgimsuy]*)$/s.exec(text);
  if (!m) return (line) => line.includes(text);
  let re: RegExp;
  try {
    re = new RegExp(m[1]!, m[2]!.replace(/[gy]/g, ''));
  } catch (e) {
    throw new UsageError(`--grep ${text.slice(0, 80)}: not a regular expression (${e instanceof Error ? e.message : String(e)}); write /pattern/flags, or plain text to match as is`);
  }
  return (line) => re.test(line);
}

export interface LogFilter {
  since?: string | undefined;
  grep?: ((text: string) => boolean) | undefined;
}

export function keepLine(l: LogLine, f: LogFilter): boolean {
  if (f.since !== undefined && l.at < f.since) return false;
  if (f.grep && !f.grep(l.text)) return false;
  return true;
}
