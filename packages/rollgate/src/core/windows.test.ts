import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { windowVerdict, type WindowVerdict } from './windows.js';
import { DAYS, WindowsSpec } from './windows-spec.js';

/** Specs go through the schema, so defaults apply and every test spec is a valid one. */
const spec = (s: unknown): WindowsSpec => WindowsSpec.parse(s);
const at = (specs: WindowsSpec[], iso: string): WindowVerdict => windowVerdict(specs, new Date(iso));

function closed(v: WindowVerdict, opensAt: string | null, reason?: string): void {
  assert.equal(v.open, false, `expected closed, got open (${v.reason})`);
  assert.equal(v.opensAt, opensAt);
  if (reason !== undefined) assert.equal(v.reason, reason);
}

function open(v: WindowVerdict, reason?: string): void {
  assert.equal(v.open, true, `expected open, got closed (${v.reason})`);
  assert.equal(v.opensAt, null);
  if (reason !== undefined) assert.equal(v.reason, reason);
}

const officeUtc = [spec({ allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }] })];

test('a plain window is open inside, closed at its end, and says when it opens', () => {
  open(at(officeUtc, '2026-01-05T09:00:00Z'), 'inside window mon-fri 09:00-17:00 UTC');
  open(at(officeUtc, '2026-01-05T16:59:59Z'));
  closed(at(officeUtc, '2026-01-05T17:00:00Z'), '2026-01-06T09:00:00Z', 'outside deploy windows (mon-fri 09:00-17:00 UTC)');
  closed(at(officeUtc, '2026-01-05T08:59:00Z'), '2026-01-05T09:00:00Z');
  // Friday evening waits for Monday.
  closed(at(officeUtc, '2026-01-09T18:00:00Z'), '2026-01-12T09:00:00Z');
});

test('no allow windows and no freeze: always open', () => {
  open(at([spec({})], '2026-01-05T03:00:00Z'), 'no deploy window or freeze applies');
  open(at([], '2026-01-05T03:00:00Z'));
});

test('a window whose end is before its start crosses midnight', () => {
  const s = [spec({ allow: [{ days: ['fri'], from: '22:00', to: '02:00' }] })];
  open(at(s, '2026-01-09T22:00:00Z'), 'inside window fri 22:00-02:00 UTC');
  open(at(s, '2026-01-10T01:59:00Z')); // saturday morning belongs to friday's window
  closed(at(s, '2026-01-10T02:00:00Z'), '2026-01-16T22:00:00Z');
  closed(at(s, '2026-01-09T21:00:00Z'), '2026-01-09T22:00:00Z');
  // Thursday night is not friday's window.
  closed(at(s, '2026-01-08T23:00:00Z'), '2026-01-09T22:00:00Z');
});

test('days filter, and windows named compactly in reasons', () => {
  const s = [spec({ allow: [{ days: ['sat', 'sun'], from: '10:00', to: '12:00' }, { days: ['mon', 'wed', 'thu', 'fri'], from: '06:00', to: '07:00' }] })];
  closed(at(s, '2026-01-06T10:30:00Z'), '2026-01-07T06:00:00Z', 'outside deploy windows (sat,sun 10:00-12:00, mon,wed-fri 06:00-07:00 UTC)');
  closed(at(s, '2026-01-09T08:00:00Z'), '2026-01-10T10:00:00Z');
  open(at(s, '2026-01-11T11:00:00Z'), 'inside window sat,sun 10:00-12:00 UTC');
  open(at([spec({ allow: [{ from: '01:00', to: '02:00' }] })], '2026-01-06T01:30:00Z'), 'inside window daily 01:00-02:00 UTC');
});

test('24:00 is the end of the day', () => {
  const s = [spec({ allow: [{ days: ['mon'], from: '18:00', to: '24:00' }] })];
  open(at(s, '2026-01-05T23:59:59Z'));
  closed(at(s, '2026-01-06T00:00:00Z'), '2026-01-12T18:00:00Z');
  const allDay = [spec({ allow: [{ from: '00:00', to: '24:00' }] })];
  open(at(allDay, '2026-01-06T00:00:00Z'));
  open(at(allDay, '2026-01-06T23:59:59Z'));
});

test('a freeze overrides the allow windows, from inclusive, to exclusive', () => {
  const freeze = { from: '2026-12-20T00:00:00Z', to: '2026-12-27T00:00:00Z', reason: 'holiday freeze' };
  const always = [spec({ allow: [{ from: '00:00', to: '24:00' }], freeze: [freeze] })];
  closed(at(always, '2026-12-20T00:00:00Z'), '2026-12-27T00:00:00Z', 'frozen until 2026-12-27T00:00:00Z: holiday freeze');
  closed(at(always, '2026-12-26T23:59:59Z'), '2026-12-27T00:00:00Z');
  open(at(always, '2026-12-27T00:00:00Z'));
  open(at(always, '2026-12-19T23:59:59Z'));
  // The freeze ends on a sunday: office hours open on monday.
  const office = [spec({ allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }], freeze: [freeze] })];
  closed(at(office, '2026-12-22T10:00:00Z'), '2026-12-28T09:00:00Z', 'frozen until 2026-12-27T00:00:00Z: holiday freeze');
  // A freeze given with an offset is reported in UTC; one without a reason says only when it ends.
  const noReason = [spec({ freeze: [{ from: '2026-12-20T00:00:00+01:00', to: '2026-12-27T00:00:00+01:00' }] })];
  closed(at(noReason, '2026-12-22T10:00:00Z'), '2026-12-26T23:00:00Z', 'frozen until 2026-12-26T23:00:00Z');
  // Overlapping freezes: the verdict waits for the last one.
  const chained = [spec({ freeze: [freeze, { from: '2026-12-26T00:00:00Z', to: '2027-01-02T00:00:00Z', reason: 'new year' }] })];
  closed(at(chained, '2026-12-22T10:00:00Z'), '2027-01-02T00:00:00Z');
  // Frozen beyond the 30-day horizon: no opening time.
  const long = [spec({ freeze: [{ from: '2026-01-01T00:00:00Z', to: '2026-06-01T00:00:00Z', reason: 'migration' }] })];
  closed(at(long, '2026-02-01T00:00:00Z'), null, 'frozen until 2026-06-01T00:00:00Z: migration');
});

test("two specs (an environment's and a stage's) must both be open", () => {
  // Berlin office hours are 08:00-16:00 UTC in winter; the stage allows 15:00-20:00 UTC.
  const env = spec({ timezone: 'Europe/Berlin', allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }] });
  const stage = spec({ allow: [{ from: '15:00', to: '20:00' }] });
  const both = [env, stage];
  closed(at(both, '2026-01-05T12:00:00Z'), '2026-01-05T15:00:00Z', 'outside deploy windows (daily 15:00-20:00 UTC)');
  open(at(both, '2026-01-05T15:30:00Z'), 'inside window mon-fri 09:00-17:00 Europe/Berlin; inside window daily 15:00-20:00 UTC');
  closed(at(both, '2026-01-05T16:00:00Z'), '2026-01-06T15:00:00Z', 'outside deploy windows (mon-fri 09:00-17:00 Europe/Berlin)');
  // Friday after both close: monday 15:00 UTC.
  closed(at(both, '2026-01-09T19:00:00Z'), '2026-01-12T15:00:00Z');
  // A freeze in one spec and a closed window in the other: both reasons, and it opens when both allow.
  const frozenStage = spec({ allow: [{ from: '15:00', to: '20:00' }], freeze: [{ from: '2026-01-05T00:00:00Z', to: '2026-01-07T15:30:00Z', reason: 'audit' }] });
  const v = at([env, frozenStage], '2026-01-05T07:00:00Z');
  closed(v, '2026-01-07T15:30:00Z', 'outside deploy windows (mon-fri 09:00-17:00 Europe/Berlin); frozen until 2026-01-07T15:30:00Z: audit');
  // Windows that never overlap never open.
  const disjoint = [spec({ allow: [{ from: '01:00', to: '02:00' }] }), spec({ allow: [{ from: '03:00', to: '04:00' }] })];
  closed(at(disjoint, '2026-01-05T01:30:00Z'), null);
});

test('Europe/Berlin across the March DST change keeps wall-clock times', () => {
  const office = [spec({ timezone: 'Europe/Berlin', allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }] })];
  // Friday 27 March is CET (+01:00); Monday 30 March is CEST (+02:00).
  open(at(office, '2026-03-27T08:00:00Z'));
  closed(at(office, '2026-03-27T16:00:00Z'), '2026-03-30T07:00:00Z');
  closed(at(office, '2026-03-28T12:00:00Z'), '2026-03-30T07:00:00Z');
  open(at(office, '2026-03-30T14:59:00Z'));
  closed(at(office, '2026-03-30T15:00:00Z'), '2026-03-31T07:00:00Z');

  // On 29 March clocks jump from 02:00 to 03:00: a window 01:00-04:00 is two hours long.
  const night = [spec({ timezone: 'Europe/Berlin', allow: [{ days: ['sun'], from: '01:00', to: '04:00' }] })];
  open(at(night, '2026-03-29T00:00:00Z'));
  open(at(night, '2026-03-29T01:59:00Z'));
  // Next sunday's 01:00 is summer time: 23:00 UTC on saturday.
  closed(at(night, '2026-03-29T02:00:00Z'), '2026-04-04T23:00:00Z');
  // A window starting in the gap (02:30 does not exist that day) opens when the gap ends.
  const gap = [spec({ timezone: 'Europe/Berlin', allow: [{ days: ['sun'], from: '02:30', to: '05:00' }] })];
  closed(at(gap, '2026-03-29T00:30:00Z'), '2026-03-29T01:00:00Z');
  open(at(gap, '2026-03-29T01:00:00Z'));
  closed(at(gap, '2026-03-29T03:00:00Z'), '2026-04-05T00:30:00Z');

  // On 25 October 02:00-03:00 happens twice: the window 02:00-03:00 covers both, two hours.
  const twice = [spec({ timezone: 'Europe/Berlin', allow: [{ days: ['sun'], from: '02:00', to: '03:00' }] })];
  closed(at(twice, '2026-10-24T23:00:00Z'), '2026-10-25T00:00:00Z');
  open(at(twice, '2026-10-25T01:30:00Z'));
  closed(at(twice, '2026-10-25T02:00:00Z'), '2026-11-01T01:00:00Z');
});

test('America/New_York, including its March DST change', () => {
  const office = [spec({ timezone: 'America/New_York', allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }] })];
  open(at(office, '2026-01-05T14:00:00Z'), 'inside window mon-fri 09:00-17:00 America/New_York');
  closed(at(office, '2026-01-05T13:59:00Z'), '2026-01-05T14:00:00Z');
  // Clocks go forward on sunday 8 March: monday opens at 13:00 UTC.
  closed(at(office, '2026-03-06T22:00:00Z'), '2026-03-09T13:00:00Z');
  open(at(office, '2026-07-01T20:59:00Z'));
  closed(at(office, '2026-07-01T21:00:00Z'), '2026-07-02T13:00:00Z');
  // Friday 22:00 in New York is saturday 03:00 UTC; the overnight window ends at 07:00 UTC.
  const overnight = [spec({ timezone: 'America/New_York', allow: [{ days: ['fri'], from: '22:00', to: '02:00' }] })];
  closed(at(overnight, '2026-01-09T23:00:00Z'), '2026-01-10T03:00:00Z');
  open(at(overnight, '2026-01-10T06:59:00Z'));
  closed(at(overnight, '2026-01-10T07:00:00Z'), '2026-01-17T03:00:00Z');
});

test('an unknown time zone is a spec error, not a crash', () => {
  assert.throws(() => windowVerdict([{ timezone: 'Mars/Olympus', allow: [{ days: ['mon'], from: '09:00', to: '10:00' }], freeze: [] }], new Date()), /unknown time zone "Mars\/Olympus"/);
});

// ---------------------------------------------------------------------------------------------

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/Santiago'];
// Around both DST changes of 2026 in the northern hemisphere (and Santiago's in April).
const RANGES: Array<[number, number]> = [
  [Date.parse('2026-02-20T00:00:00Z'), Date.parse('2026-04-20T00:00:00Z')],
  [Date.parse('2026-10-01T00:00:00Z'), Date.parse('2026-11-15T00:00:00Z')],
];
const clock = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

const instantArb = fc.tuple(fc.integer({ min: 0, max: RANGES.length - 1 }), fc.double({ min: 0, max: 1, noNaN: true })).map(([r, f]) => {
  const [a, b] = RANGES[r]!;
  return Math.floor(a + f * (b - a));
});
// Minutes on the quarter hour mostly, so windows meet DST changes and each other often.
const minuteArb = fc.oneof(fc.integer({ min: 0, max: 96 }).map((q) => q * 15), fc.integer({ min: 0, max: 1440 }));
const windowArb = fc
  .record({ days: fc.subarray([...DAYS], { minLength: 1 }), from: minuteArb, to: minuteArb })
  .filter((w) => w.from !== w.to)
  .map((w) => ({ days: w.days, from: clock(w.from), to: clock(w.to) }));
const freezeArb = fc.tuple(instantArb, fc.integer({ min: 1, max: 10 * 24 * 60 })).map(([start, minutes]) => ({
  from: new Date(start).toISOString(),
  to: new Date(start + minutes * 60_000).toISOString(),
}));
const specArb = fc
  .record({ timezone: fc.constantFrom(...ZONES), allow: fc.array(windowArb, { maxLength: 3 }), freeze: fc.array(freezeArb, { maxLength: 2 }) })
  .map((s) => spec(s));

test('property: opensAt is open, and nothing between now and opensAt is', () => {
  const DAY = 86_400_000;
  fc.assert(
    fc.property(fc.array(specArb, { minLength: 1, maxLength: 2 }), instantArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 20, maxLength: 20 }), (specs, now, fractions) => {
      const v = windowVerdict(specs, new Date(now));
      if (v.open) {
        assert.equal(v.opensAt, null);
        return;
      }
      const until = v.opensAt === null ? now + 30 * DAY : Date.parse(v.opensAt);
      if (v.opensAt !== null) {
        assert.ok(until > now && until <= now + 30 * DAY, `opensAt ${v.opensAt} outside (now, now+30d]`);
        assert.equal(windowVerdict(specs, new Date(until)).open, true, `not open at opensAt ${v.opensAt}`);
        assert.equal(windowVerdict(specs, new Date(until - 1)).open, false, `already open just before opensAt ${v.opensAt}`);
      }
      for (const f of fractions) {
        const t = Math.floor(now + f * (until - now));
        if (t <= now || t >= until) continue;
        const s = windowVerdict(specs, new Date(t));
        assert.equal(s.open, false, `open at ${new Date(t).toISOString()}, before opensAt ${v.opensAt}`);
      }
    }),
    { numRuns: 150 },
  );
});
