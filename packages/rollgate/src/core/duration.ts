import { RollgateError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** True when `text` is a duration string such as `250ms`, `30s`, `5m`, `1h`, `7d`. */
export function isDuration(text: string): boolean {
  return DURATION_RE.test(text);
}

/** Parses `30s`, `5m`, `250ms` … into milliseconds. */
export function parseDuration(text: string, where = 'duration'): number {
  const m = DURATION_RE.exec(text.trim());
  if (!m) {
    throw new RollgateError('invalid_input', `${where}: "${text}" is not a duration; write a number and a unit, e.g. 500ms, 30s, 5m, 1h`);
  }
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as string]!);
}

/** Short human form of a millisecond count: 850ms, 12.3s, 4m05s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, '0')}s`;
}
