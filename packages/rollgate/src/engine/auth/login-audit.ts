/**
 * Failed logins on the audit trail, aggregated (issue 9, item 10): anyone can send failed logins,
 * and one permanent entry each would let them fill the trail. The trail is hash-chained, so an
 * entry cannot be updated in place; instead the counts live in a table updated in place
 * (auth_login_failure_windows: one row per attempted name, client address and window) and the
 * trail gets
 *   - `auth.login_failed` at the first failure of a name from an address in a window,
 *   - `auth.login_throttled` at the first attempt of the window refused by the throttle (refusals
 *     because the whole address waits are counted under the name `*`, so spraying many names
 *     from one address writes one entry, not one per name),
 *   - `auth.login_failed_summary` with the window's counts once the window has closed (written
 *     by the next failed login, a periodic sweep, and the server's stop; the open window too at
 *     stop), only when the window had more than one attempt.
 * So a flood of N attempts writes at most 3 entries per (name, address, window), and the total
 * count is on the chain. Summaries are claimed by compare-and-set, so several servers never write
 * the same one twice.
 */
import type { LoginFailureWindowRecord } from '../../store/auth-types.js';
import type { Store } from '../../store/types.js';
import type { AuditInput, AuditSource } from '../audit.js';
import { ANONYMOUS_ACTOR } from '../audit-hooks.js';
import { loginName, normalAddress } from './login-throttle.js';

export const DEFAULT_LOGIN_AUDIT_WINDOW_MS = 10 * 60_000;
/** Reported windows are kept this long for `rollgate audit logins`, then deleted. */
const KEEP_MS = 30 * 24 * 3_600_000;
const SWEEP_BATCH = 200;

export interface LoginAuditOptions {
  windowMs?: number;
  now?: () => Date;
}

export type LoginAttemptKind = 'failed' | 'refused';
/** The name refusals of a whole address are counted under. */
export const ALL_NAMES = '*';

export class LoginAudit {
  readonly windowMs: number;
  private readonly now: () => Date;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly record: (e: AuditInput) => Promise<unknown>,
    opts: LoginAuditOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? DEFAULT_LOGIN_AUDIT_WINDOW_MS;
    this.now = opts.now ?? (() => new Date());
  }

  /** Where the window holding `t` starts. */
  windowStart(t: Date): Date {
    return new Date(Math.floor(t.getTime() / this.windowMs) * this.windowMs);
  }

  /**
   * Counts a failed or refused login (`addressWide`: refused because the whole address waits);
   * writes an entry only when it is the window's first of its kind.
   */
  async attempt(kind: LoginAttemptKind, rawName: string, source: AuditSource, addressWide = false): Promise<void> {
    const now = this.now();
    if (kind === 'refused' && addressWide) rawName = ALL_NAMES;
    // Anyone can send any name: no control characters reach a table a terminal shows.
    // eslint-disable-next-line no-control-regex
    const name = loginName(rawName).slice(0, 64).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
    const address = normalAddress(source.address);
    const start = this.windowStart(now);
    const w = await this.store.auth.countLoginFailure({ name, address, windowStart: start.toISOString(), at: now.toISOString(), kind });
    const firstOfKind = kind === 'failed' ? w.failures === 1 : w.refused === 1;
    if (!firstOfKind) return;
    await this.record({
      actor: ANONYMOUS_ACTOR,
      action: kind === 'failed' ? 'auth.login_failed' : 'auth.login_throttled',
      target: `user/${name}`,
      outcome: 'denied',
      source,
      after: { window: this.windowOf(w), note: `further attempts of this name from ${address} until ${this.windowEnd(w)} are counted, and summarised in auth.login_failed_summary` },
    });
    // A new window opened: earlier ones are closed, summarise them now.
    await this.sweep();
  }

  /** Summarises closed windows (all windows with `all`, at stop) that have counts not yet on the trail. */
  sweep(opts: { all?: boolean } = {}): Promise<void> {
    // One sweep at a time in this process (the compare-and-set covers other servers).
    const run = (this.sweeping ?? Promise.resolve()).then(() => this.sweepOnce(opts.all === true));
    this.sweeping = run.catch(() => undefined);
    return run;
  }

  /** Windows that started since `since`, newest first. */
  list(since: Date, limit = 200): Promise<LoginFailureWindowRecord[]> {
    return this.store.auth.listLoginFailures(since.toISOString(), limit);
  }

  private async sweepOnce(all: boolean): Promise<void> {
    const now = this.now();
    const before = all ? null : this.windowStart(now).toISOString();
    for (;;) {
      const rows = await this.store.auth.unreportedLoginFailures(before, SWEEP_BATCH);
      for (const w of rows) {
        const total = w.failures + w.refused;
        // Claim it first: only the claimant writes the summary.
        if (!(await this.store.auth.markLoginFailuresReported(w, w.reported, total))) continue;
        await this.record({
          actor: ANONYMOUS_ACTOR,
          action: 'auth.login_failed_summary',
          target: `user/${w.name}`,
          outcome: 'denied',
          source: { address: w.address, userAgent: null },
          after: { window: this.windowOf(w), failures: w.failures, refused: w.refused, attempts: total, firstAt: w.firstAt, lastAt: w.lastAt, ...(w.reported > 0 ? { alreadySummarised: w.reported } : {}) },
        });
      }
      if (rows.length < SWEEP_BATCH) break;
    }
    await this.store.auth.pruneLoginFailures(new Date(now.getTime() - KEEP_MS).toISOString());
  }

  private windowEnd(w: LoginFailureWindowRecord): string {
    return new Date(Date.parse(w.windowStart) + this.windowMs).toISOString();
  }

  private windowOf(w: LoginFailureWindowRecord): { start: string; end: string } {
    return { start: w.windowStart, end: this.windowEnd(w) };
  }
}
