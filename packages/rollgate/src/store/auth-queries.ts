/** AuthStore over Kysely, for SQLite and PostgreSQL. */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Grant } from '../core/authz.js';
import { RollgateError } from '../core/errors.js';
import type {
  ApiTokenRecord,
  AuthStore,
  CustomRoleRecord,
  LoginFailureWindowRecord,
  LoginThrottleRecord,
  NewApiToken,
  NewCustomRole,
  NewSession,
  NewUser,
  SessionRecord,
  UserPatch,
  UserRecord,
} from './auth-types.js';
import type { AuthLoginFailureWindowsTable, AuthLoginThrottleTable, AuthRolesTable, AuthSessionsTable, AuthTokensTable, AuthUsersTable } from './schema-auth.js';
import type { Database, SqlDialect } from './schema.js';
import { constraintViolation } from './violations.js';

function userRecord(r: Selectable<AuthUsersTable>): UserRecord {
  return {
    id: r.id,
    name: r.name,
    passwordHash: r.password_hash,
    roles: JSON.parse(r.roles) as string[],
    disabled: r.disabled === 1,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function roleRecord(r: Selectable<AuthRolesTable>): CustomRoleRecord {
  return {
    name: r.name,
    description: r.description,
    grants: JSON.parse(r.grants) as Grant[],
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function tokenRecord(r: Selectable<AuthTokensTable>): ApiTokenRecord {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    hash: r.hash,
    roles: r.roles === null ? null : (JSON.parse(r.roles) as string[]),
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

function sessionRecord(r: Selectable<AuthSessionsTable>): SessionRecord {
  return {
    idHash: r.id_hash,
    userId: r.user_id,
    csrfHash: r.csrf_hash,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    address: r.address,
    userAgent: r.user_agent,
  };
}

function throttleRecord(r: Selectable<AuthLoginThrottleTable>): LoginThrottleRecord {
  return { key: r.key, name: r.name, address: r.address, failures: Number(r.failures), lastFailureAt: r.last_failure_at, blockedUntil: r.blocked_until };
}

function failureWindowRecord(r: Selectable<AuthLoginFailureWindowsTable>): LoginFailureWindowRecord {
  return {
    name: r.name,
    address: r.address,
    windowStart: r.window_start,
    failures: Number(r.failures),
    refused: Number(r.refused),
    firstAt: r.first_at,
    lastAt: r.last_at,
    reported: Number(r.reported),
  };
}

function isUnique(e: unknown): boolean {
  return constraintViolation(e)?.kind === 'unique';
}

export class AuthQueries implements AuthStore {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: SqlDialect,
  ) {}

  // ---- users

  async createUser(u: NewUser): Promise<UserRecord> {
    try {
      const row = await this.db
        .insertInto('auth_users')
        .values({ id: u.id, name: u.name, password_hash: u.passwordHash, roles: JSON.stringify(u.roles), disabled: 0, created_by: u.createdBy, created_at: u.at, updated_at: u.at })
        .returningAll()
        .executeTakeFirstOrThrow();
      return userRecord(row);
    } catch (e) {
      if (isUnique(e)) throw new RollgateError('conflict', `user "${u.name}" already exists; pick another name, or change that user with \`rollgate users set ${u.name}\``);
      throw e;
    }
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const row = await this.db.selectFrom('auth_users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? userRecord(row) : null;
  }

  async getUserByName(name: string): Promise<UserRecord | null> {
    const row = await this.db.selectFrom('auth_users').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? userRecord(row) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.selectFrom('auth_users').selectAll().orderBy('name').execute()).map(userRecord);
  }

  async countUsers(): Promise<number> {
    const row = await this.db.selectFrom('auth_users').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async updateUser(id: string, patch: UserPatch, at: string): Promise<UserRecord | null> {
    const set: Partial<AuthUsersTable> = { updated_at: at };
    if (patch.roles !== undefined) set.roles = JSON.stringify(patch.roles);
    if (patch.disabled !== undefined) set.disabled = patch.disabled ? 1 : 0;
    if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
    const row = await this.db.updateTable('auth_users').set(set).where('id', '=', id).returningAll().executeTakeFirst();
    return row ? userRecord(row) : null;
  }

  async deleteUser(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('auth_users').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // ---- custom roles

  async createRole(r: NewCustomRole): Promise<CustomRoleRecord> {
    try {
      const row = await this.db
        .insertInto('auth_roles')
        .values({ name: r.name, description: r.description, grants: JSON.stringify(r.grants), created_by: r.createdBy, created_at: r.at, updated_at: r.at })
        .returningAll()
        .executeTakeFirstOrThrow();
      return roleRecord(row);
    } catch (e) {
      if (isUnique(e)) throw new RollgateError('conflict', `role "${r.name}" already exists; pick another name, or replace it (PUT /v1/roles/${r.name})`);
      throw e;
    }
  }

  async replaceRole(name: string, r: { description: string; grants: Grant[] }, at: string): Promise<CustomRoleRecord | null> {
    const row = await this.db
      .updateTable('auth_roles')
      .set({ description: r.description, grants: JSON.stringify(r.grants), updated_at: at })
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    return row ? roleRecord(row) : null;
  }

  async getRole(name: string): Promise<CustomRoleRecord | null> {
    const row = await this.db.selectFrom('auth_roles').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? roleRecord(row) : null;
  }

  async listRoles(): Promise<CustomRoleRecord[]> {
    return (await this.db.selectFrom('auth_roles').selectAll().orderBy('name').execute()).map(roleRecord);
  }

  async deleteRole(name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('auth_roles').where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // ---- API tokens

  async createToken(t: NewApiToken): Promise<ApiTokenRecord> {
    try {
      const row = await this.db
        .insertInto('auth_tokens')
        .values({
          id: t.id,
          user_id: t.userId,
          name: t.name,
          hash: t.hash,
          roles: t.roles === null ? null : JSON.stringify(t.roles),
          expires_at: t.expiresAt,
          last_used_at: null,
          revoked_at: null,
          created_by: t.createdBy,
          created_at: t.at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return tokenRecord(row);
    } catch (e) {
      const v = constraintViolation(e);
      if (v?.kind === 'unique') throw new RollgateError('conflict', 'that API token is already registered; create a new one');
      if (v?.kind === 'foreign_key') throw new RollgateError('not_found', 'the user of that API token does not exist (any more); list users with `rollgate users`');
      throw e;
    }
  }

  async getToken(id: string): Promise<ApiTokenRecord | null> {
    const row = await this.db.selectFrom('auth_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? tokenRecord(row) : null;
  }

  async getTokenByHash(hashHex: string): Promise<ApiTokenRecord | null> {
    const row = await this.db.selectFrom('auth_tokens').selectAll().where('hash', '=', hashHex).executeTakeFirst();
    return row ? tokenRecord(row) : null;
  }

  async listTokens(filter: { userId?: string } = {}): Promise<ApiTokenRecord[]> {
    let q = this.db.selectFrom('auth_tokens').selectAll();
    if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
    return (await q.orderBy('created_at', 'desc').orderBy('id').execute()).map(tokenRecord);
  }

  async revokeToken(id: string, at: string): Promise<ApiTokenRecord | null> {
    await this.db.updateTable('auth_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    return this.getToken(id);
  }

  async touchToken(id: string, at: string, notBefore: string): Promise<void> {
    await this.db
      .updateTable('auth_tokens')
      .set({ last_used_at: at })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', notBefore)]))
      .execute();
  }

  // ---- sessions

  async createSession(s: NewSession): Promise<SessionRecord> {
    const row = await this.db
      .insertInto('auth_sessions')
      .values({
        id_hash: s.idHash,
        user_id: s.userId,
        csrf_hash: s.csrfHash,
        expires_at: s.expiresAt,
        created_at: s.createdAt,
        last_seen_at: s.createdAt,
        address: s.address,
        user_agent: s.userAgent,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return sessionRecord(row);
  }

  async getSession(idHash: string): Promise<SessionRecord | null> {
    const row = await this.db.selectFrom('auth_sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
    return row ? sessionRecord(row) : null;
  }

  async touchSession(idHash: string, at: string, notBefore: string): Promise<void> {
    await this.db.updateTable('auth_sessions').set({ last_seen_at: at }).where('id_hash', '=', idHash).where('last_seen_at', '<', notBefore).execute();
  }

  async deleteSession(idHash: string): Promise<boolean> {
    const r = await this.db.deleteFrom('auth_sessions').where('id_hash', '=', idHash).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async deleteUserSessions(userId: string): Promise<number> {
    const r = await this.db.deleteFrom('auth_sessions').where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async deleteExpiredSessions(now: string): Promise<number> {
    const r = await this.db.deleteFrom('auth_sessions').where('expires_at', '<', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  // ---- login throttling

  async getLoginThrottle(key: string): Promise<LoginThrottleRecord | null> {
    const row = await this.db.selectFrom('auth_login_throttle').selectAll().where('key', '=', key).executeTakeFirst();
    return row ? throttleRecord(row) : null;
  }

  async casLoginThrottle(seen: { failures: number; lastFailureAt: string } | null, next: LoginThrottleRecord): Promise<boolean> {
    const values = { key: next.key, name: next.name, address: next.address, failures: next.failures, last_failure_at: next.lastFailureAt, blocked_until: next.blockedUntil };
    if (seen === null) {
      const r = await this.db.insertInto('auth_login_throttle').values(values).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    }
    const r = await this.db
      .updateTable('auth_login_throttle')
      .set({ failures: next.failures, last_failure_at: next.lastFailureAt, blocked_until: next.blockedUntil })
      .where('key', '=', next.key)
      .where('failures', '=', seen.failures)
      .where('last_failure_at', '=', seen.lastFailureAt)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async releaseLoginAttempt(key: string, free: number): Promise<void> {
    await this.db
      .updateTable('auth_login_throttle')
      .set({
        failures: sql<number>`failures - 1`,
        blocked_until: sql<string | null>`case when failures - 1 <= ${free} then null else blocked_until end`,
      })
      .where('key', '=', key)
      .where('failures', '>', 0)
      .execute();
  }

  async deleteLoginThrottles(keys: string[]): Promise<LoginThrottleRecord[]> {
    if (keys.length === 0) return [];
    return (await this.db.deleteFrom('auth_login_throttle').where('key', 'in', keys).returningAll().execute()).map(throttleRecord);
  }

  async listLoginThrottles(filter: { name?: string; address?: string }): Promise<LoginThrottleRecord[]> {
    let q = this.db.selectFrom('auth_login_throttle').selectAll();
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.address !== undefined) q = q.where('address', '=', filter.address);
    return (await q.orderBy('address').orderBy('key').execute()).map(throttleRecord);
  }

  async pruneLoginThrottles(before: string): Promise<void> {
    await this.db
      .deleteFrom('auth_login_throttle')
      .where('last_failure_at', '<', before)
      .where((eb) => eb.or([eb('blocked_until', 'is', null), eb('blocked_until', '<', before)]))
      .execute();
  }

  // ---- failed-login windows

  async countLoginFailure(w: { name: string; address: string; windowStart: string; at: string; kind: 'failed' | 'refused' }): Promise<LoginFailureWindowRecord> {
    const failed = w.kind === 'failed' ? 1 : 0;
    const row = await this.db
      .insertInto('auth_login_failure_windows')
      .values({ name: w.name, address: w.address, window_start: w.windowStart, failures: failed, refused: 1 - failed, first_at: w.at, last_at: w.at, reported: 0 })
      .onConflict((oc) =>
        oc.columns(['name', 'address', 'window_start']).doUpdateSet({
          failures: sql<number>`auth_login_failure_windows.failures + ${failed}`,
          refused: sql<number>`auth_login_failure_windows.refused + ${1 - failed}`,
          last_at: w.at,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return failureWindowRecord(row);
  }

  async markLoginFailuresReported(w: { name: string; address: string; windowStart: string }, seen: number, reported: number): Promise<boolean> {
    const r = await this.db
      .updateTable('auth_login_failure_windows')
      .set({ reported })
      .where('name', '=', w.name)
      .where('address', '=', w.address)
      .where('window_start', '=', w.windowStart)
      .where('reported', '=', seen)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async unreportedLoginFailures(before: string | null, limit: number): Promise<LoginFailureWindowRecord[]> {
    let q = this.db
      .selectFrom('auth_login_failure_windows')
      .selectAll()
      .where(sql<boolean>`failures + refused > reported`)
      .where(sql<boolean>`failures + refused > 1`);
    if (before !== null) q = q.where('window_start', '<', before);
    return (await q.orderBy('window_start').orderBy('name').orderBy('address').limit(limit).execute()).map(failureWindowRecord);
  }

  async listLoginFailures(since: string, limit: number): Promise<LoginFailureWindowRecord[]> {
    const rows = await this.db
      .selectFrom('auth_login_failure_windows')
      .selectAll()
      .where('window_start', '>=', since)
      .orderBy('window_start', 'desc')
      .orderBy('name')
      .orderBy('address')
      .limit(limit)
      .execute();
    return rows.map(failureWindowRecord);
  }

  async pruneLoginFailures(before: string): Promise<void> {
    await this.db.deleteFrom('auth_login_failure_windows').where('window_start', '<', before).where(sql<boolean>`(failures + refused <= reported or failures + refused <= 1)`).execute();
  }
}
