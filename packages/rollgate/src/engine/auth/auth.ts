/**
 * Authentication: API tokens, browser sessions (with CSRF tokens), password login throttled per
 * account and address (login-throttle.ts). Errors are 401s whose messages say what to do and leak nothing: never a
 * token, a hash, or whether a user name exists.
 */
import { RollgateError } from '../../core/errors.js';
import type { SessionRecord, UserRecord } from '../../store/auth-types.js';
import type { Store } from '../../store/types.js';
import { DEFAULT_THROTTLE, LoginThrottle, type ThrottlePolicy } from './login-throttle.js';
import { DEFAULT_SCRYPT, dummyVerify, hashPassword, needsRehash, verifyPassword, type ScryptParams, MAX_PASSWORD_LENGTH } from './passwords.js';
import { actorOf, effectiveRoleNames, type Principal } from './principal.js';
import { RoleBook } from './roles.js';
import { SESSION_ID_RE, csrfMatches, csrfTokenFor, newSessionId, sha256Hex } from './sessions.js';
import { isWellFormedToken, tokenHashHex, tokenMatchesHash } from './tokens.js';

export interface AuthOptions {
  now?: () => Date;
  /** Password hashing cost (tests use a cheap one). */
  scrypt?: ScryptParams;
  /** A session ends after this long without a request (default 2 h). */
  sessionIdleMs?: number;
  /** …and this long after login whatever happens (default 12 h). */
  sessionMaxMs?: number;
  /** Last use of a token / session is written at most this often (default 60 s). */
  touchIntervalMs?: number;
  throttle?: Partial<ThrottlePolicy>;
  /** Called after each successful password login (the server deletes the first admin's password file). */
  onPasswordLogin?: (user: UserRecord) => void;
}

/** What each refused credential is told (tests match these). */
export const AUTH_MESSAGES = {
  missing: 'no credentials: send Authorization: Bearer <API token> (run `rollgate login`, or use <data-dir>/api.token), or log in for a session cookie',
  malformed: 'malformed API token: expected "Authorization: Bearer rg_" followed by 43 characters; copy the whole token, or run `rollgate login` for a new one',
  unknown: 'API token not recognised: it was mistyped or its user was deleted; run `rollgate login` or ask an admin for a new token',
  revoked: 'API token revoked; run `rollgate login` or ask an admin for a new token',
  expired: 'API token expired; run `rollgate login` or create a new one with `rollgate tokens create`',
  disabled: 'this account is disabled; ask an admin to enable it',
  sessionMalformed: 'malformed session cookie; log in again',
  sessionUnknown: 'session ended (logged out, or replaced); log in again',
  sessionExpired: 'session expired; log in again',
  csrf: 'missing or wrong X-CSRF-Token header: a change made with a session cookie must send the csrfToken given at login (or by GET /v1/auth/me)',
  login: 'user name or password not accepted',
} as const;

export type LoginResult =
  | { ok: true; principal: Principal; sessionId: string; csrfToken: string; expiresAt: string }
  | { ok: false; reason: 'invalid' }
  /** Throttled: not checked; try again at `until` (this name from this address, or this address). */
  | { ok: false; reason: 'throttled'; retryAfterMs: number; until: Date; scope: 'account' | 'address' };

export interface ClientInfo {
  address?: string | undefined;
  userAgent?: string | undefined;
}

const MAINTENANCE_EVERY_MS = 10 * 60_000;
const TOUCH_CACHE_MAX = 10_000;

export class Auth {
  readonly roles: RoleBook;
  readonly throttle: LoginThrottle;
  readonly now: () => Date;
  readonly scrypt: ScryptParams;
  readonly sessionIdleMs: number;
  readonly sessionMaxMs: number;
  private readonly touchMs: number;
  /** Token id -> when this process last recorded its use: most requests then write nothing. */
  private readonly touched = new Map<string, number>();
  private lastMaintenance = 0;
  private readonly onPasswordLogin: ((user: UserRecord) => void) | undefined;

  constructor(
    readonly store: Store,
    opts: AuthOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.scrypt = opts.scrypt ?? DEFAULT_SCRYPT;
    this.sessionIdleMs = opts.sessionIdleMs ?? 2 * 3_600_000;
    this.sessionMaxMs = opts.sessionMaxMs ?? 12 * 3_600_000;
    this.touchMs = opts.touchIntervalMs ?? 60_000;
    this.onPasswordLogin = opts.onPasswordLogin;
    this.roles = new RoleBook(store);
    this.throttle = new LoginThrottle(store, { ...DEFAULT_THROTTLE, ...opts.throttle });
  }

  /** The principal of an API token; unauthorized with a message per reason. */
  async authenticateToken(token: string): Promise<Principal> {
    if (!isWellFormedToken(token)) throw new RollgateError('unauthorized', AUTH_MESSAGES.malformed);
    const rec = await this.store.auth.getTokenByHash(tokenHashHex(token));
    // The lookup is by hash; compare again in constant time all the same.
    if (!rec || !tokenMatchesHash(token, rec.hash)) throw new RollgateError('unauthorized', AUTH_MESSAGES.unknown);
    if (rec.revokedAt !== null) throw new RollgateError('unauthorized', AUTH_MESSAGES.revoked);
    const now = this.now();
    if (rec.expiresAt !== null && Date.parse(rec.expiresAt) <= now.getTime()) throw new RollgateError('unauthorized', AUTH_MESSAGES.expired);
    const user = await this.store.auth.getUser(rec.userId);
    if (!user) throw new RollgateError('unauthorized', AUTH_MESSAGES.unknown);
    if (user.disabled) throw new RollgateError('unauthorized', AUTH_MESSAGES.disabled);
    await this.touchToken(rec.id, now);
    const roleNames = effectiveRoleNames(user.roles, rec.roles);
    return {
      actor: actorOf(user.name),
      user: { id: user.id, name: user.name },
      via: 'token',
      token: { id: rec.id, roles: rec.roles, expiresAt: rec.expiresAt },
      roleNames,
      roles: await this.roles.resolve(roleNames),
    };
  }

  private async touchToken(id: string, now: Date): Promise<void> {
    const last = this.touched.get(id);
    if (last !== undefined && now.getTime() - last < this.touchMs) return;
    if (this.touched.size >= TOUCH_CACHE_MAX) this.touched.clear();
    this.touched.set(id, now.getTime());
    await this.store.auth.touchToken(id, now.toISOString(), new Date(now.getTime() - this.touchMs).toISOString());
  }

  /** The principal of a session cookie; an expired session is deleted. */
  async authenticateSession(sessionId: string): Promise<Principal> {
    if (!SESSION_ID_RE.test(sessionId)) throw new RollgateError('unauthorized', AUTH_MESSAGES.sessionMalformed);
    const idHash = sha256Hex(sessionId);
    const s = await this.store.auth.getSession(idHash);
    if (!s) throw new RollgateError('unauthorized', AUTH_MESSAGES.sessionUnknown);
    const now = this.now();
    if (this.sessionEnd(s) <= now.getTime()) {
      await this.store.auth.deleteSession(idHash);
      throw new RollgateError('unauthorized', AUTH_MESSAGES.sessionExpired);
    }
    const user = await this.store.auth.getUser(s.userId);
    if (!user) throw new RollgateError('unauthorized', AUTH_MESSAGES.sessionUnknown);
    if (user.disabled) {
      await this.store.auth.deleteSession(idHash);
      throw new RollgateError('unauthorized', AUTH_MESSAGES.disabled);
    }
    if (now.getTime() - Date.parse(s.lastSeenAt) >= this.touchMs) {
      await this.store.auth.touchSession(idHash, now.toISOString(), new Date(now.getTime() - this.touchMs).toISOString());
    }
    return this.sessionPrincipal(user, s);
  }

  /** When a session ends: idle timeout from its last request, capped by its absolute end. */
  sessionEnd(s: SessionRecord): number {
    return Math.min(Date.parse(s.expiresAt), Date.parse(s.lastSeenAt) + this.sessionIdleMs);
  }

  private async sessionPrincipal(user: UserRecord, s: SessionRecord): Promise<Principal> {
    return {
      actor: actorOf(user.name),
      user: { id: user.id, name: user.name },
      via: 'session',
      session: { idHash: s.idHash, csrfHash: s.csrfHash, expiresAt: s.expiresAt },
      roleNames: [...user.roles],
      roles: await this.roles.resolve(user.roles),
    };
  }

  /** forbidden unless `presented` is the session's CSRF token (constant-time). */
  checkCsrf(principal: Principal, presented: string | undefined): void {
    if (principal.via !== 'session' || !principal.session) return;
    if (!csrfMatches(presented, principal.session.csrfHash)) throw new RollgateError('forbidden', AUTH_MESSAGES.csrf);
  }

  /**
   * Password login. Every refusal of a name and password takes one scrypt, whether or not the
   * user exists, can log in, or is disabled; a throttled name-and-address (or address) is refused
   * at once, unchecked (throttling applies to any name, so it tells nothing either).
   */
  async login(name: string, password: string, client: ClientInfo = {}): Promise<LoginResult> {
    const now = this.now();
    await this.maintain(now);
    const gate = await this.throttle.begin(name, client.address, now);
    if (!gate.ok) return { ok: false, reason: 'throttled', retryAfterMs: gate.retryAfterMs, until: gate.until, scope: gate.scope };

    const user = name.length <= 128 ? await this.store.auth.getUserByName(name.trim().toLowerCase()) : null;
    const pw = password.length <= MAX_PASSWORD_LENGTH ? password : '';
    const ok = user?.passwordHash ? await verifyPassword(pw, user.passwordHash) : await dummyVerify(pw, this.scrypt);
    // The attempt was counted before the check: a failure needs nothing more.
    if (!ok || !user || user.disabled || password.length > MAX_PASSWORD_LENGTH) return { ok: false, reason: 'invalid' };
    await this.throttle.succeeded(gate);
    if (user.passwordHash && needsRehash(user.passwordHash, this.scrypt)) {
      await this.store.auth.updateUser(user.id, { passwordHash: await hashPassword(password, this.scrypt) }, now.toISOString());
    }
    const sessionId = newSessionId();
    const csrfToken = csrfTokenFor(sessionId);
    const expiresAt = new Date(now.getTime() + this.sessionMaxMs).toISOString();
    const s = await this.store.auth.createSession({
      idHash: sha256Hex(sessionId),
      userId: user.id,
      csrfHash: sha256Hex(csrfToken),
      expiresAt,
      createdAt: now.toISOString(),
      address: client.address?.slice(0, 64) ?? null,
      userAgent: client.userAgent?.slice(0, 200) ?? null,
    });
    this.onPasswordLogin?.(user);
    return { ok: true, principal: await this.sessionPrincipal(user, s), sessionId, csrfToken, expiresAt };
  }

  /** The CSRF token of a session, from its id (for GET /v1/auth/me after a page reload). */
  csrfTokenFor(sessionId: string): string {
    return csrfTokenFor(sessionId);
  }

  /** Ends the credential the request came with: the session, or the API token (revoked). */
  async logout(principal: Principal): Promise<void> {
    if (principal.via === 'session' && principal.session) await this.store.auth.deleteSession(principal.session.idHash);
    if (principal.via === 'token' && principal.token) await this.store.auth.revokeToken(principal.token.id, this.now().toISOString());
  }

  /** Drops expired sessions and forgotten login counters, at most every ten minutes. */
  private async maintain(now: Date): Promise<void> {
    if (now.getTime() - this.lastMaintenance < MAINTENANCE_EVERY_MS) return;
    this.lastMaintenance = now.getTime();
    await this.store.auth.deleteExpiredSessions(now.toISOString());
    await this.throttle.prune(now);
  }
}
