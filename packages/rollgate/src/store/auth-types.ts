/**
 * The auth part of the Store (store.auth): users, custom roles, API tokens, browser sessions,
 * login throttling and failed-login counts. Times are ISO-8601 UTC strings given by the caller (the engine owns the clock).
 * Implemented by store/auth-queries.ts; the rules (who may, expiry, throttling) live in engine/auth.
 */
import type { Grant } from '../core/authz.js';

export interface UserRecord {
  id: string;
  name: string;
  /** `scrypt$…`; null: the user cannot log in with a password (tokens only). */
  passwordHash: string | null;
  roles: string[];
  disabled: boolean;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewUser {
  id: string;
  name: string;
  passwordHash: string | null;
  roles: string[];
  createdBy: string;
  at: string;
}

export interface UserPatch {
  roles?: string[];
  disabled?: boolean;
  passwordHash?: string | null;
}

export interface CustomRoleRecord {
  name: string;
  description: string;
  grants: Grant[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewCustomRole {
  name: string;
  description: string;
  grants: Grant[];
  createdBy: string;
  at: string;
}

export interface ApiTokenRecord {
  id: string;
  userId: string;
  name: string;
  /** Hex sha256 of the token (the token itself is never stored). */
  hash: string;
  /** Role names the token is limited to; null: whatever its user holds. */
  roles: string[] | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdBy: string;
  createdAt: string;
}

export interface NewApiToken {
  id: string;
  userId: string;
  name: string;
  hash: string;
  roles: string[] | null;
  expiresAt: string | null;
  createdBy: string;
  at: string;
}

export interface SessionRecord {
  /** Hex sha256 of the session id. */
  idHash: string;
  userId: string;
  /** Hex sha256 of the CSRF token. */
  csrfHash: string;
  expiresAt: string;
  createdAt: string;
  lastSeenAt: string;
  address: string | null;
  userAgent: string | null;
}

export type NewSession = Omit<SessionRecord, 'lastSeenAt'>;

/** A login throttle counter: of one user name from one address, or of one address (name null). */
export interface LoginThrottleRecord {
  key: string;
  name: string | null;
  address: string;
  failures: number;
  lastFailureAt: string;
  /** The next attempt is refused before this time; null: no wait. */
  blockedUntil: string | null;
}

/** Failed (and refused) logins of one attempted name from one address in one window. */
export interface LoginFailureWindowRecord {
  name: string;
  address: string;
  windowStart: string;
  /** Wrong name or password. */
  failures: number;
  /** Refused without a check, while throttled. */
  refused: number;
  firstAt: string;
  lastAt: string;
  /** failures + refused when the last summary went on the audit trail (0: none yet). */
  reported: number;
}

export interface AuthStore {
  // users
  /** conflict when the name is taken. */
  createUser(u: NewUser): Promise<UserRecord>;
  getUser(id: string): Promise<UserRecord | null>;
  getUserByName(name: string): Promise<UserRecord | null>;
  /** By name. */
  listUsers(): Promise<UserRecord[]>;
  countUsers(): Promise<number>;
  /** null when there is no such user. */
  updateUser(id: string, patch: UserPatch, at: string): Promise<UserRecord | null>;
  /** Its tokens and sessions go with it. false when there was no such user. */
  deleteUser(id: string): Promise<boolean>;

  // custom roles (the built-in ones are in core/authz.ts)
  /** conflict when the name is taken. */
  createRole(r: NewCustomRole): Promise<CustomRoleRecord>;
  /** null when there is no such role. */
  replaceRole(name: string, r: { description: string; grants: Grant[] }, at: string): Promise<CustomRoleRecord | null>;
  getRole(name: string): Promise<CustomRoleRecord | null>;
  /** By name. */
  listRoles(): Promise<CustomRoleRecord[]>;
  deleteRole(name: string): Promise<boolean>;

  // API tokens
  /** conflict when the id or the hash is taken. */
  createToken(t: NewApiToken): Promise<ApiTokenRecord>;
  getToken(id: string): Promise<ApiTokenRecord | null>;
  getTokenByHash(hashHex: string): Promise<ApiTokenRecord | null>;
  /** Newest first; one user's, or everybody's. */
  listTokens(filter?: { userId?: string }): Promise<ApiTokenRecord[]>;
  /** Sets revoked_at unless already revoked (the first time stays). null when there is no such token. */
  revokeToken(id: string, at: string): Promise<ApiTokenRecord | null>;
  /** Records a use at `at`, unless one was recorded at or after `notBefore` (spares writes). */
  touchToken(id: string, at: string, notBefore: string): Promise<void>;

  // browser sessions
  createSession(s: NewSession): Promise<SessionRecord>;
  getSession(idHash: string): Promise<SessionRecord | null>;
  /** Records activity at `at`, unless some was recorded at or after `notBefore`. */
  touchSession(idHash: string, at: string, notBefore: string): Promise<void>;
  deleteSession(idHash: string): Promise<boolean>;
  /** Ends every session of a user (password reset, disable); how many there were. */
  deleteUserSessions(userId: string): Promise<number>;
  /** Deletes sessions whose absolute end is before `now`; how many. */
  deleteExpiredSessions(now: string): Promise<number>;

  // login throttling (engine/auth/login-throttle.ts)
  getLoginThrottle(key: string): Promise<LoginThrottleRecord | null>;
  /**
   * Writes `next` only if the row is still as read (`seen`: its failures and last failure time,
   * or null when there was no row): compare-and-set, so parallel attempts each count. false when
   * another writer came first (read again and retry).
   */
  casLoginThrottle(seen: { failures: number; lastFailureAt: string } | null, next: LoginThrottleRecord): Promise<boolean>;
  /** Takes one failure back (an attempt that succeeded); the wait goes when failures drop to `free` or below. */
  releaseLoginAttempt(key: string, free: number): Promise<void>;
  /** Deletes rows by key; the rows deleted. */
  deleteLoginThrottles(keys: string[]): Promise<LoginThrottleRecord[]>;
  /** The rows of one user name (every address), by address. */
  listLoginThrottles(filter: { name?: string; address?: string }): Promise<LoginThrottleRecord[]>;
  /** Forgets counters with no failure since `before`. */
  pruneLoginThrottles(before: string): Promise<void>;

  // failed-login windows (engine/auth/login-audit.ts)
  /** Counts one failure or refusal in its window (atomically); the row as it is now. */
  countLoginFailure(w: { name: string; address: string; windowStart: string; at: string; kind: 'failed' | 'refused' }): Promise<LoginFailureWindowRecord>;
  /** Sets `reported` if it is still `seen` (so only one server writes each summary); false otherwise. */
  markLoginFailuresReported(w: { name: string; address: string; windowStart: string }, seen: number, reported: number): Promise<boolean>;
  /** Windows that started before `before` (any, with null) with more than one attempt not yet summarised, oldest first. */
  unreportedLoginFailures(before: string | null, limit: number): Promise<LoginFailureWindowRecord[]>;
  /** Windows that started at or after `since`, newest first. */
  listLoginFailures(since: string, limit: number): Promise<LoginFailureWindowRecord[]>;
  /** Deletes reported windows that started before `before`. */
  pruneLoginFailures(before: string): Promise<void>;
}
