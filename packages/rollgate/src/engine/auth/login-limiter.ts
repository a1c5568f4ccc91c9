/**
 * Login rate limiting: failed logins are counted per user name and per client address; too many
 * in the window locks that key for a while. Unknown user names are counted like known ones, so
 * a lock says nothing about whether a user exists.
 */
import type { Store } from '../../store/types.js';

export interface LockoutPolicy {
  /** Failures per user name within the window that lock it. */
  maxFailuresPerUser: number;
  /** Failures from one address within the window that lock it (several users behind one NAT). */
  maxFailuresPerAddress: number;
  windowMs: number;
  lockMs: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { maxFailuresPerUser: 5, maxFailuresPerAddress: 20, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };

export function userKey(name: string): string {
  return `user:${name.trim().toLowerCase().slice(0, 128)}`;
}

export function addressKey(address: string): string {
  return `addr:${address.slice(0, 64)}`;
}

export class LoginLimiter {
  constructor(
    private readonly store: Store,
    readonly policy: LockoutPolicy = DEFAULT_LOCKOUT,
  ) {}

  /** The latest end of a lock on any of the keys, or null when none is locked. */
  async lockedUntil(keys: string[], now: Date): Promise<Date | null> {
    let until: string | null = null;
    for (const k of keys) {
      const u = await this.store.auth.loginLockedUntil(k, now.toISOString());
      if (u !== null && (until === null || u > until)) until = u;
    }
    return until === null ? null : new Date(until);
  }

  /** Counts a failure for each key; locks the keys that reached their limit. */
  async failed(keys: string[], now: Date): Promise<void> {
    const at = now.toISOString();
    const since = new Date(now.getTime() - this.policy.windowMs).toISOString();
    for (const k of keys) {
      await this.store.auth.recordLoginFailure(k, at);
      const max = k.startsWith('addr:') ? this.policy.maxFailuresPerAddress : this.policy.maxFailuresPerUser;
      if ((await this.store.auth.countLoginFailures(k, since)) >= max) {
        await this.store.auth.lockLogin(k, new Date(now.getTime() + this.policy.lockMs).toISOString(), at);
        // After the lock a fresh count starts.
        await this.store.auth.clearLoginFailures(k);
      }
    }
  }

  /** A successful login clears the user name's count (not the address's: one's own account must not reset it). */
  async succeeded(name: string): Promise<void> {
    await this.store.auth.clearLoginFailures(userKey(name));
  }

  async prune(now: Date): Promise<void> {
    await this.store.auth.pruneLogins(new Date(now.getTime() - this.policy.windowMs).toISOString());
  }
}
