/**
 * Login throttling (OWASP "exponential delay"): failures are counted per (user name, client
 * address) and per client address across all names. After a few free failures every further
 * one doubles the wait before the next attempt of that pair (or that address), up to a cap. A
 * lock never follows a name alone, so an attacker cannot lock out an account: the right password
 * from another address is never refused because of failures elsewhere. The address-wide counter
 * slows spraying many names from one address. Unknown user names count like known ones, so a
 * wait says nothing about whether a user exists.
 *
 * An attempt is counted BEFORE its password is checked (compare-and-set on the row), so parallel
 * guesses each take a place in the count; a success takes its place back. State is in the store:
 * it survives a restart and holds across several servers on one PostgreSQL.
 */
import { isIP } from 'node:net';
import type { LoginThrottleRecord } from '../../store/auth-types.js';
import type { Store } from '../../store/types.js';

export interface ThrottlePolicy {
  /** Failures of one name from one address before waits start. */
  freePerAccount: number;
  /** Failures from one address, all names together, before waits start. */
  freePerAddress: number;
  /** The first wait; each further failure doubles it. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A counter with no failure for this long starts again from zero. */
  forgetAfterMs: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = { freePerAccount: 5, freePerAddress: 20, baseDelayMs: 1000, maxDelayMs: 15 * 60_000, forgetAfterMs: 24 * 3_600_000 };

/** The wait after the n-th counted failure: none while free, then base, 2·base, 4·base … up to the cap. */
export function delayAfter(failures: number, free: number, p: Pick<ThrottlePolicy, 'baseDelayMs' | 'maxDelayMs'>): number {
  if (failures <= free) return 0;
  return Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** Math.min(40, failures - free - 1));
}

/** The name as logins look it up. */
export function loginName(name: string): string {
  return name.trim().toLowerCase().slice(0, 128);
}

/** `::ffff:10.0.0.1` as `10.0.0.1`; IPv6 lower case; anything else (no socket) bounded. */
export function normalAddress(address: string | null | undefined): string {
  if (!address) return 'unknown';
  const a = address.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  return (mapped ? mapped[1]! : a).slice(0, 64);
}

/**
 * What the counters key an address by: IPv4 as it is, IPv6 by its /64 (one host usually holds a
 * whole /64, so counting single IPv6 addresses would give an attacker billions of fresh ones).
 */
export function throttleAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  return `${expandV6(address).slice(0, 4).join(':')}::/64`;
}

function expandV6(a: string): string[] {
  const [head, tail] = a.includes('::') ? (a.split('::') as [string, string]) : [a, ''];
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const fill = Array.from({ length: Math.max(0, 8 - h.length - t.length) }, () => '0');
  return [...h, ...fill, ...t].map((x) => x.replace(/^0+(?=.)/, ''));
}

export const accountKey = (name: string, address: string) => `acct:${loginName(name)}|${throttleAddress(address)}`;
export const addressKey = (address: string) => `addr:${throttleAddress(address)}`;

export type ThrottleVerdict =
  | { ok: true; name: string; address: string }
  /** `scope`: what waits, this name from this address, or this address for every name. */
  | { ok: false; until: Date; retryAfterMs: number; scope: 'account' | 'address' };

const CAS_TRIES = 8;

export class LoginThrottle {
  constructor(
    private readonly store: Store,
    readonly policy: ThrottlePolicy = DEFAULT_THROTTLE,
  ) {}

  /**
   * Before checking a password: refused while this name from this address (or this address)
   * must wait; otherwise the attempt is counted on both counters and may go ahead.
   */
  async begin(rawName: string, rawAddress: string | null | undefined, now: Date): Promise<ThrottleVerdict> {
    const name = loginName(rawName);
    const address = normalAddress(rawAddress);
    const acct = { key: accountKey(name, address), name, address: throttleAddress(address), free: this.policy.freePerAccount };
    const addr = { key: addressKey(address), name: null, address: throttleAddress(address), free: this.policy.freePerAddress };
    // Look first, so a refused attempt changes nothing.
    const waits = await Promise.all([acct, addr].map(async (k) => this.waitOf(await this.store.auth.getLoginThrottle(k.key), now)));
    const refused = this.refusal(waits[0]!, waits[1]!, now);
    if (refused) return refused;
    const a = await this.reserve(acct, now);
    if (a) return this.refusal(a, null, now)!;
    const b = await this.reserve(addr, now);
    if (b) {
      // Another attempt set the address's wait meanwhile: this one is not checked, so not counted.
      await this.store.auth.releaseLoginAttempt(acct.key, acct.free);
      return this.refusal(null, b, now)!;
    }
    return { ok: true, name, address };
  }

  /** After the right password: the pair starts from zero; the address's count gets this attempt back. */
  async succeeded(v: { name: string; address: string }): Promise<void> {
    await this.store.auth.deleteLoginThrottles([accountKey(v.name, v.address)]);
    await this.store.auth.releaseLoginAttempt(addressKey(v.address), this.policy.freePerAddress);
  }

  /**
   * Clears the waits of a user name: from one address (and that address's own counter), or from
   * every address. Returns what was cleared.
   */
  async unlock(rawName: string, rawAddress?: string): Promise<LoginThrottleRecord[]> {
    const name = loginName(rawName);
    if (rawAddress !== undefined) {
      const address = normalAddress(rawAddress);
      return this.store.auth.deleteLoginThrottles([accountKey(name, address), addressKey(address)]);
    }
    const rows = await this.store.auth.listLoginThrottles({ name });
    return this.store.auth.deleteLoginThrottles(rows.map((r) => r.key));
  }

  async prune(now: Date): Promise<void> {
    await this.store.auth.pruneLoginThrottles(new Date(now.getTime() - this.policy.forgetAfterMs).toISOString());
  }

  private waitOf(row: LoginThrottleRecord | null, now: Date): Date | null {
    if (!row?.blockedUntil) return null;
    const until = new Date(row.blockedUntil);
    return until.getTime() > now.getTime() ? until : null;
  }

  private refusal(account: Date | null, address: Date | null, now: Date): ThrottleVerdict | null {
    if (!account && !address) return null;
    const scope = account && (!address || account >= address) ? 'account' : 'address';
    const until = (scope === 'account' ? account : address)!;
    return { ok: false, until, retryAfterMs: until.getTime() - now.getTime(), scope };
  }

  /** Counts one attempt on a counter; the time to wait until instead when it must wait. */
  private async reserve(k: { key: string; name: string | null; address: string; free: number }, now: Date): Promise<Date | null> {
    const at = now.toISOString();
    const forgetBefore = now.getTime() - this.policy.forgetAfterMs;
    for (let i = 0; i < CAS_TRIES; i++) {
      const row = await this.store.auth.getLoginThrottle(k.key);
      const wait = this.waitOf(row, now);
      if (wait) return wait;
      const fresh = !row || Date.parse(row.lastFailureAt) < forgetBefore;
      const failures = (fresh ? 0 : row.failures) + 1;
      const delay = delayAfter(failures, k.free, this.policy);
      const next = { key: k.key, name: k.name, address: k.address, failures, lastFailureAt: at, blockedUntil: delay > 0 ? new Date(now.getTime() + delay).toISOString() : null };
      if (await this.store.auth.casLoginThrottle(row ? { failures: row.failures, lastFailureAt: row.lastFailureAt } : null, next)) return null;
    }
    // Many attempts on one counter at the same moment: that is an attack; let this one wait.
    return new Date(now.getTime() + this.policy.baseDelayMs);
  }
}
