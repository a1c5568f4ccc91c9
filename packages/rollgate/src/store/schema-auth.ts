/**
 * Table types of the auth tables (migration 0005): users, custom roles, API tokens, browser
 * sessions and failed logins. Secrets are kept only as hashes: a token or a session id never
 * reaches the database, a password only as its scrypt string.
 */
import type { Generated } from 'kysely';

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

export interface AuthLoginFailuresTable {
  seq: Generated<number>;
  /** `user:<name>` or `addr:<client address>`. */
  key: string;
  at: string;
}

export interface AuthLockoutsTable {
  key: string;
  locked_until: string;
  created_at: string;
}

export interface AuthTables {
  auth_users: AuthUsersTable;
  auth_roles: AuthRolesTable;
  auth_tokens: AuthTokensTable;
  auth_sessions: AuthSessionsTable;
  auth_login_failures: AuthLoginFailuresTable;
  auth_lockouts: AuthLockoutsTable;
}
