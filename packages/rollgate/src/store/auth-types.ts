/**
 * The auth part of the Store (store.auth): users, custom roles, API tokens, browser sessions and
 * failed logins. Times are ISO-8601 UTC strings given by the caller (the engine owns the clock).
 * Implemented by store/auth-queries.ts; the rules (who may, expiry, lockout) live in engine/auth.
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

  // failed logins and lockouts (keys: `user:<name>`, `addr:<address>`)
  recordLoginFailure(key: string, at: string): Promise<void>;
  countLoginFailures(key: string, since: string): Promise<number>;
  clearLoginFailures(key: string): Promise<void>;
  /** Locks `key` until `until` (replacing an earlier lock). */
  lockLogin(key: string, until: string, at: string): Promise<void>;
  /** The end of the lock on `key` if it is after `now`, else null. */
  loginLockedUntil(key: string, now: string): Promise<string | null>;
  /** Forgets failures recorded before `before` and locks that ended before it. */
  pruneLogins(before: string): Promise<void>;
}
