/**
 * Table types of the auth tables: users, custom roles, API tokens, browser sessions (migration
 * 0005), login throttling and failed-login windows (0007). Secrets are kept only as hashes: a
 * token or a session id never reaches the database, a password only as its scrypt string.
 */

export interface AuthUsersTable {
  id: string;
  /** Unique, lower case. */
  name: string;
  /** `scrypt$…` (engine/auth/passwords.ts); null: no password login (token-only account). */
  password_hash: string | null;
  /** JSON array of role names. */
  roles: string;
  /** 0/1. */
  disabled: number;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface AuthRolesTable {
  name: string;
  description: string;
  /** JSON array of Grant (core/authz.ts). */
  grants: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface AuthTokensTable {
  id: string;
  user_id: string;
  name: string;
  /** Hex sha256 of the token. */
  hash: string;
  /** JSON array of role names the token is limited to; null: the user's roles. */
  roles: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  created_by: string;
  created_at: string;
}

export interface AuthSessionsTable {
  /** Hex sha256 of the session id (the cookie value). */
  id_hash: string;
  user_id: string;
  /** Hex sha256 of the session's CSRF token. */
  csrf_hash: string;
  /** Absolute end; the idle timeout is counted from last_seen_at. */
  expires_at: string;
  created_at: string;
  last_seen_at: string;
  address: string | null;
  user_agent: string | null;
}

export interface AuthLoginThrottleTable {
  /** `acct:<name>|<address>` or `addr:<address>` (engine/auth/login-throttle.ts). */
  key: string;
  /** The attempted user name; null on an address-wide row. */
  name: string | null;
  address: string;
  failures: number;
  last_failure_at: string;
  blocked_until: string | null;
}

export interface AuthLoginFailureWindowsTable {
  name: string;
  address: string;
  window_start: string;
  failures: number;
  refused: number;
  first_at: string;
  last_at: string;
  reported: number;
}

export interface AuthTables {
  auth_users: AuthUsersTable;
  auth_roles: AuthRolesTable;
  auth_tokens: AuthTokensTable;
  auth_sessions: AuthSessionsTable;
  auth_login_throttle: AuthLoginThrottleTable;
  auth_login_failure_windows: AuthLoginFailureWindowsTable;
}
