/** AuthStore over Kysely, for SQLite and PostgreSQL. */
import type { Kysely, Selectable } from 'kysely';
import type { Grant } from '../core/authz.js';
import { RollgateError } from '../core/errors.js';
import type {
  ApiTokenRecord,
  AuthStore,
  CustomRoleRecord,
  NewApiToken,
  NewCustomRole,
  NewSession,
  NewUser,
  SessionRecord,
  UserPatch,
  UserRecord,
} from './auth-types.js';
import type { AuthRolesTable, AuthSessionsTable, AuthTokensTable, AuthUsersTable } from './schema-auth.js';
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

  // ---- failed logins and lockouts

  async recordLoginFailure(key: string, at: string): Promise<void> {
    await this.db.insertInto('auth_login_failures').values({ key, at }).execute();
  }

  async countLoginFailures(key: string, since: string): Promise<number> {
    const row = await this.db
      .selectFrom('auth_login_failures')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('key', '=', key)
      .where('at', '>=', since)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async clearLoginFailures(key: string): Promise<void> {
    await this.db.deleteFrom('auth_login_failures').where('key', '=', key).execute();
  }

  async lockLogin(key: string, until: string, at: string): Promise<void> {
    await this.db
      .insertInto('auth_lockouts')
      .values({ key, locked_until: until, created_at: at })
      .onConflict((oc) => oc.column('key').doUpdateSet({ locked_until: until, created_at: at }))
      .execute();
  }

  async loginLockedUntil(key: string, now: string): Promise<string | null> {
    const row = await this.db.selectFrom('auth_lockouts').select('locked_until').where('key', '=', key).where('locked_until', '>', now).executeTakeFirst();
    return row?.locked_until ?? null;
  }

  async pruneLogins(before: string): Promise<void> {
    await this.db.deleteFrom('auth_login_failures').where('at', '<', before).execute();
    await this.db.deleteFrom('auth_lockouts').where('locked_until', '<', before).execute();
  }
}
