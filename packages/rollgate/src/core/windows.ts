/**
 * Judges deploy windows and freezes (core/windows-spec.ts) at an instant: open or not, why, and
 * when they next open. Pure: no clock, no I/O; time zones through Intl only.
 *
 * Every allow window of a local day becomes a UTC interval [start, end): its wall-clock ends are
 * converted with the zone's rules of that day, so DST is honoured. Freezes are [from, to).
 * Because every piece is half-open, the earliest open instant after `now` is always the start
 * of some window or the end of some freeze; opensAt only checks those candidates.
 */
import { RollgateError } from './errors.js';
import { DAYS, type DeployWindow, type Weekday, type WindowsSpec } from './windows-spec.js';

export interface WindowVerdict {
  open: boolean;
  /** Human: 'inside window mon-fri 09:00-17:00 Europe/Berlin', 'frozen until …: reason', 'outside deploy windows (…)'. */
  reason: string;
  /** ISO UTC instant when everything next opens; null if open now or not within 30 days. */
  opensAt: string | null;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** How far ahead opensAt looks. */
const HORIZON_MS = 30 * DAY;

export function windowVerdict(specs: WindowsSpec[], now: Date): WindowVerdict {
  const t = now.getTime();
  if (!Number.isFinite(t)) throw new RollgateError('invalid_input', 'windowVerdict needs a valid date');
  // Windows of the local days from two before now: an overnight window reaches into the next day.
  const states = specs.map((s) => stateAt(planSpec(s, t - 2 * DAY, t + DAY), t));
  if (states.every((s) => s.open)) {
    const inside = states.map((s) => s.reason).filter((r) => r !== '');
    return { open: true, reason: inside.length ? inside.join('; ') : 'no deploy window or freeze applies', opensAt: null };
  }
  const reason = states.filter((s) => !s.open).map((s) => s.reason).join('; ');
  // Only a closed verdict needs the windows of the whole horizon.
  const plans = specs.map((s) => planSpec(s, t - 2 * DAY, t + HORIZON_MS + DAY));
  return { open: false, reason, opensAt: nextOpen(plans, t) };
}

// ---------------------------------------------------------------------------------------------

interface Interval {
  start: number;
  end: number;
}

interface SpecPlan {
  spec: WindowsSpec;
  /** Allow windows as UTC intervals, with the window they came from; sorted by start. */
  allow: Array<Interval & { window: DeployWindow }>;
  freeze: Array<Interval & { reason: string | undefined }>;
}

function planSpec(spec: WindowsSpec, from: number, to: number): SpecPlan {
  const tz = spec.timezone;
  const allow: SpecPlan['allow'] = [];
  if (spec.allow.length > 0) {
    const first = localDay(tz, from);
    const last = localDay(tz, to);
    for (let day = first; day <= last; day += DAY) {
      const weekday = weekdayOf(day);
      for (const w of spec.allow) {
        if (!w.days.includes(weekday)) continue;
        const fromMin = clockMinutes(w.from);
        const toMin = clockMinutes(w.to);
        // to < from crosses midnight: the window ends on the next local day.
        const endDay = toMin < fromMin ? day + DAY : day;
        const start = wallToUtc(tz, day + fromMin * MINUTE);
        const end = wallToUtc(tz, endDay + toMin * MINUTE);
        if (end > start) allow.push({ start, end, window: w });
      }
    }
    allow.sort((a, b) => a.start - b.start);
  }
  const freeze = spec.freeze.map((f) => ({ start: Date.parse(f.from), end: Date.parse(f.to), reason: f.reason }));
  return { spec, allow, freeze };
}

function stateAt(plan: SpecPlan, t: number): { open: boolean; reason: string } {
  const frozen = plan.freeze.filter((f) => f.start <= t && t < f.end);
  if (frozen.length > 0) {
    const last = frozen.reduce((a, b) => (b.end > a.end ? b : a));
    return { open: false, reason: `frozen until ${isoUtc(last.end)}${last.reason ? `: ${last.reason}` : ''}` };
  }
  if (plan.spec.allow.length === 0) return { open: true, reason: '' };
  const inside = plan.allow.find((w) => w.start <= t && t < w.end);
  if (inside) return { open: true, reason: `inside window ${describeWindow(inside.window)} ${plan.spec.timezone}` };
  return { open: false, reason: `outside deploy windows (${plan.spec.allow.map(describeWindow).join(', ')} ${plan.spec.timezone})` };
}

function openAt(plans: SpecPlan[], t: number): boolean {
  return plans.every((p) => stateAt(p, t).open);
}

function nextOpen(plans: SpecPlan[], now: number): string | null {
  const limit = now + HORIZON_MS;
  const candidates = new Set<number>();
  for (const p of plans) {
    for (const w of p.allow) if (w.start > now && w.start <= limit) candidates.add(w.start);
    for (const f of p.freeze) if (f.end > now && f.end <= limit) candidates.add(f.end);
  }
  for (const c of [...candidates].sort((a, b) => a - b)) if (openAt(plans, c)) return isoUtc(c);
  return null;
}

// ---------------------------------------------------------------------------------------------
// Formatting

function clockMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

function describeWindow(w: DeployWindow): string {
  return `${describeDays(w.days)} ${w.from}-${w.to}`;
}

/** 'mon-fri', 'mon,wed,fri', 'mon-wed,sat', 'daily'. */
function describeDays(days: readonly Weekday[]): string {
  const idx = [...new Set(days.map((d) => DAYS.indexOf(d)))].sort((a, b) => a - b);
  if (idx.length === DAYS.length) return 'daily';
  const runs: string[] = [];
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1] === idx[j]! + 1) j++;
    const a = DAYS[idx[i]!]!;
    const b = DAYS[idx[j]!]!;
    runs.push(j === i ? a : j === i + 1 ? `${a},${b}` : `${a}-${b}`);
    i = j + 1;
  }
  return runs.join(',');
}

/** ISO UTC without the '.000' noise when the instant is on a whole second. */
function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

// ---------------------------------------------------------------------------------------------
// Time zones. A "wall" value is a local date-time encoded as if it were UTC milliseconds.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new RollgateError('invalid_spec', `unknown time zone "${tz}" in deploy windows; use an IANA name such as UTC or Europe/Berlin`);
    }
    formatters.set(tz, f);
  }
  return f;
}

/** The local wall-clock reading of instant t, whole seconds. */
function wallOf(tz: string, t: number): number {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

/** Zone offset at instant t (local minus UTC), in ms. */
function offsetAt(tz: string, t: number): number {
  return wallOf(tz, t) - Math.floor(t / 1000) * 1000;
}

/** Midnight (as a wall value) of the local day that contains instant t. */
function localDay(tz: string, t: number): number {
  const w = wallOf(tz, t);
  return w - (((w % DAY) + DAY) % DAY);
}

function weekdayOf(dayWall: number): Weekday {
  // getUTCDay: 0 = sunday; DAYS starts on monday.
  return DAYS[(new Date(dayWall).getUTCDay() + 6) % 7]!;
}

/**
 * The instant a local wall time happens. Guess with the zone's offset and correct once (two
 * passes); the offsets a day either side also cover the one transition nearby. A wall time
 * that happens twice (clocks go back) takes the earlier instant; one that never happens
 * (clocks go forward) moves to the first instant after the gap.
 */
function wallToUtc(tz: string, wall: number): number {
  const guess = wall - offsetAt(tz, wall);
  const corrected = wall - offsetAt(tz, guess);
  const candidates = new Set([corrected, wall - offsetAt(tz, wall - DAY), wall - offsetAt(tz, wall + DAY)]);
  const valid = [...candidates].filter((c) => c + offsetAt(tz, c) === wall);
  if (valid.length > 0) return Math.min(...valid);
  // In a gap: the transition lies between the candidates; find its first instant by bisection.
  let lo = Math.min(...candidates);
  let hi = Math.max(...candidates);
  const before = offsetAt(tz, lo);
  if (offsetAt(tz, hi) === before) return corrected; // no transition found: cannot happen with real zones
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(tz, mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}
