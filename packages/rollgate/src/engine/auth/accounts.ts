/**
 * Managing users, API tokens and custom roles. Who may call what is decided by the API's route
 * table (api/route-permissions.ts); the rules that depend on the data are here: the last admin
 * stays, a token never holds more than its user and its creator, role names must exist.
 */
import { randomUUID } from 'node:crypto';
import { isBuiltinRole, type Grant, type RoleSpec } from '../../core/authz.js';
import { RollgateError } from '../../core/errors.js';
import type { ApiTokenRecord, UserPatch, UserRecord } from '../../store/auth-types.js';
import type { Store } from '../../store/types.js';
import type { Auth } from './auth.js';
import { checkPasswordPolicy, generatePassword, hashPassword, verifyPassword } from './passwords.js';
import type { Principal } from './principal.js';
import { customRole } from './roles.js';
import { generateToken, newTokenId, tokenExpiry, tokenHashHex } from './tokens.js';

export const USER_NAME_RE = /^[a-z][a-z0-9._-]{0,62}$/;
export const DEFAULT_TOKEN_EXPIRY = '90d';
/** Live tokens one user may hold: enough for every machine, not a way to fill the database. */
export const MAX_TOKENS_PER_USER = 100;

export interface UserView {
  id: string;
  name: string;
  roles: string[];
  disabled: boolean;
  /** Whether the user can log in with a password (else: API tokens only). */
  hasPassword: boolean;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export type TokenStatus = 'active' | 'expired' | 'revoked';

export interface TokenView {
  id: string;
  user: string;
  name: string;
  /** Role names the token is limited to; null: its user's roles. */
  roles: string[] | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdBy: string;
  createdAt: string;
  status: TokenStatus;
}

export interface RoleView {
  name: string;
  description: string;
  builtin: boolean;
  grants: Grant[];
}

export interface NewUserInput {
  name: string;
  roles: string[];
  /** Omitted: no password login unless generatePassword. */
  password?: string | undefined;
  generatePassword?: boolean | undefined;
}

export interface UserChange {
  roles?: string[] | undefined;
  disabled?: boolean | undefined;
  password?: string | undefined;
  generatePassword?: boolean | undefined;
  /** Removes the password: API tokens only from now on. */
  removePassword?: boolean | undefined;
}

export interface NewTokenInput {
  name?: string | undefined;
  roles?: string[] | undefined;
  /** `30d`, `12h`, … or `never` (default 90d). */
  expires?: string | undefined;
  /** Whose token (default: the caller's). */
  user?: string | undefined;
}

export function userView(u: UserRecord): UserView {
  return { id: u.id, name: u.name, roles: u.roles, disabled: u.disabled, hasPassword: u.passwordHash !== null, createdBy: u.createdBy, createdAt: u.createdAt, updatedAt: u.updatedAt };
}

export function tokenStatus(t: ApiTokenRecord, now: Date): TokenStatus {
  if (t.revokedAt !== null) return 'revoked';
  if (t.expiresAt !== null && Date.parse(t.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}

function tokenView(t: ApiTokenRecord, userName: string, now: Date): TokenView {
  return {
    id: t.id,
    user: userName,
    name: t.name,
    roles: t.roles,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
    createdBy: t.createdBy,
    createdAt: t.createdAt,
    status: tokenStatus(t, now),
  };
}

const isActiveAdmin = (u: UserRecord) => !u.disabled && u.roles.includes('admin');

export class Accounts {
  constructor(
    private readonly store: Store,
    private readonly auth: Auth,
  ) {}

  private nowIso(): string {
    return this.auth.now().toISOString();
  }

  async mustUser(name: string): Promise<UserRecord> {
    const u = USER_NAME_RE.test(name) ? await this.store.auth.getUserByName(name) : null;
    if (!u) throw new RollgateError('not_found', `no user "${name.slice(0, 64)}"; list users with \`rollgate users\``);
    return u;
  }

  // ---- users

  async listUsers(): Promise<UserView[]> {
    return (await this.store.auth.listUsers()).map(userView);
  }

  async createUser(input: NewUserInput, actor: string): Promise<{ user: UserView; password?: string }> {
    if (!USER_NAME_RE.test(input.name)) throw new RollgateError('invalid_input', 'user names are lower-case letters, digits, ".", "_" and "-", starting with a letter (at most 63)');
    await this.checkRoles(input.roles);
    const password = await this.passwordFrom(input);
    const u = await this.store.auth.createUser({
      id: randomUUID(),
      name: input.name,
      passwordHash: password === null ? null : await hashPassword(password, this.auth.scrypt),
      roles: [...new Set(input.roles)],
      createdBy: actor,
      at: this.nowIso(),
    });
    return { user: userView(u), ...(input.generatePassword && password !== null ? { password } : {}) };
  }

  async updateUser(name: string, change: UserChange, _actor: string): Promise<{ user: UserView; password?: string }> {
    const u = await this.mustUser(name);
    const patch: UserPatch = {};
    if (change.roles !== undefined) {
      await this.checkRoles(change.roles);
      patch.roles = [...new Set(change.roles)];
    }
    if (change.disabled !== undefined) patch.disabled = change.disabled;
    const after = { ...u, ...patch };
    if (isActiveAdmin(u) && !isActiveAdmin(after)) await this.keepAnAdmin(u, change.disabled ? 'disable' : 'take admin from');
    let password: string | null = null;
    if (change.removePassword) {
      if (change.password !== undefined || change.generatePassword) throw new RollgateError('invalid_input', 'give a new password or remove it, not both');
      patch.passwordHash = null;
    } else if (change.password !== undefined || change.generatePassword) {
      password = await this.passwordFrom(change);
      patch.passwordHash = password === null ? null : await hashPassword(password, this.auth.scrypt);
    }
    const updated = await this.store.auth.updateUser(u.id, patch, this.nowIso());
    if (!updated) throw new RollgateError('not_found', `no user "${name}"; list users with \`rollgate users\``);
    // A new password or a disabled account ends the sessions of whoever held the old one.
    if (patch.passwordHash !== undefined || patch.disabled) await this.store.auth.deleteUserSessions(u.id);
    return { user: userView(updated), ...(change.generatePassword && password !== null ? { password } : {}) };
  }

  async deleteUser(name: string): Promise<UserView> {
    const u = await this.mustUser(name);
    if (isActiveAdmin(u)) await this.keepAnAdmin(u, 'delete');
    await this.store.auth.deleteUser(u.id);
    return userView(u);
  }

  /** A user changes their own password, proving the current one. */
  async changeOwnPassword(principal: Principal, current: string, next: string): Promise<void> {
    const u = await this.store.auth.getUser(principal.user.id);
    if (!u) throw new RollgateError('not_found', 'your account no longer exists');
    if (!u.passwordHash || !(await verifyPassword(current, u.passwordHash))) throw new RollgateError('invalid_input', 'current password not accepted; give the password you log in with now');
    checkPasswordPolicy(next, 'new password');
    await this.store.auth.updateUser(u.id, { passwordHash: await hashPassword(next, this.auth.scrypt) }, this.nowIso());
    await this.store.auth.deleteUserSessions(u.id);
  }

  private async keepAnAdmin(u: UserRecord, what: string): Promise<void> {
    const others = (await this.store.auth.listUsers()).filter((x) => x.id !== u.id && isActiveAdmin(x));
    if (others.length === 0) throw new RollgateError('conflict', `cannot ${what} "${u.name}": it is the last enabled admin; make another user admin first`);
  }

  private async checkRoles(roles: string[]): Promise<void> {
    if (roles.length === 0) throw new RollgateError('invalid_input', 'give a user at least one role (viewer reads only)');
    await this.auth.roles.checkExist(roles);
  }

  private async passwordFrom(input: { password?: string | undefined; generatePassword?: boolean | undefined }): Promise<string | null> {
    if (input.password !== undefined && input.generatePassword) throw new RollgateError('invalid_input', 'give a password or ask for a generated one, not both');
    if (input.generatePassword) return generatePassword();
    if (input.password === undefined) return null;
    checkPasswordPolicy(input.password);
    return input.password;
  }

  // ---- tokens

  async listTokens(principal: Principal, opts: { all?: boolean | undefined; user?: string | undefined } = {}): Promise<TokenView[]> {
    const users = new Map((await this.store.auth.listUsers()).map((u) => [u.id, u.name]));
    const filter = opts.all ? {} : { userId: opts.user !== undefined ? (await this.mustUser(opts.user)).id : principal.user.id };
    const now = this.auth.now();
    return (await this.store.auth.listTokens(filter)).map((t) => tokenView(t, users.get(t.userId) ?? '?', now));
  }

  async getToken(id: string): Promise<ApiTokenRecord | null> {
    return this.store.auth.getToken(id);
  }

  /**
   * A new token, shown once. Its roles may only narrow its user's (unless the user is an admin)
   * and the caller's own: a limited token cannot mint a wider one. Without roles it acts with its
   * user's roles, or, made with a limited token, with that token's.
   */
  async createToken(principal: Principal, input: NewTokenInput): Promise<{ token: string; record: TokenView }> {
    const target = input.user === undefined || input.user === principal.user.name ? await this.selfOf(principal) : await this.mustUser(input.user);
    if (target.disabled) throw new RollgateError('conflict', `user "${target.name}" is disabled; enable it before creating tokens for it`);
    const now = this.auth.now();
    const expiresAt = tokenExpiry(input.expires ?? DEFAULT_TOKEN_EXPIRY, now);
    let roles: string[] | null;
    if (input.roles !== undefined) {
      roles = [...new Set(input.roles)];
      if (roles.length === 0) throw new RollgateError('invalid_input', 'roles: give at least one role, or leave roles out for the user\'s own');
      await this.auth.roles.checkExist(roles);
      const beyondUser = target.roles.includes('admin') ? [] : roles.filter((r) => !target.roles.includes(r));
      if (beyondUser.length) throw new RollgateError('forbidden', `user "${target.name}" does not hold ${beyondUser.join(', ')}; a token can only narrow its user's roles (${target.roles.join(', ')})`);
      const beyondCaller = principal.roleNames.includes('admin') ? [] : roles.filter((r) => !principal.roleNames.includes(r));
      if (beyondCaller.length) throw new RollgateError('forbidden', `you act with ${principal.roleNames.join(', ') || 'no roles'}; a token you create cannot hold ${beyondCaller.join(', ')}`);
    } else {
      roles = target.id === principal.user.id && principal.via === 'token' ? (principal.token?.roles ?? null) : null;
    }
    const live = (await this.store.auth.listTokens({ userId: target.id })).filter((t) => tokenStatus(t, now) === 'active').length;
    if (live >= MAX_TOKENS_PER_USER) throw new RollgateError('conflict', `user "${target.name}" has ${live} live tokens; revoke some (\`rollgate tokens list\`, \`rollgate tokens revoke ID\`) first`);
    const token = generateToken();
    const rec = await this.store.auth.createToken({
      id: newTokenId(),
      userId: target.id,
      name: input.name ?? 'token',
      hash: tokenHashHex(token),
      roles,
      expiresAt,
      createdBy: principal.actor,
      at: now.toISOString(),
    });
    return { token, record: tokenView(rec, target.name, now) };
  }

  private async selfOf(principal: Principal): Promise<UserRecord> {
    const u = await this.store.auth.getUser(principal.user.id);
    if (!u) throw new RollgateError('not_found', 'your account no longer exists');
    return u;
  }

  /** Revokes a token: the next request with it is refused. */
  async revokeToken(id: string): Promise<TokenView> {
    const rec = await this.store.auth.revokeToken(id, this.nowIso());
    if (!rec) throw new RollgateError('not_found', `no token ${id.slice(0, 40)}; list tokens with \`rollgate tokens list\``);
    const u = await this.store.auth.getUser(rec.userId);
    return tokenView(rec, u?.name ?? '?', this.auth.now());
  }

  // ---- roles

  async listRoles(): Promise<RoleView[]> {
    return (await this.auth.roles.list()).map((r) => ({ name: r.name, description: r.description, builtin: r.builtin, grants: [...r.grants] }));
  }

  async createRole(spec: RoleSpec, actor: string): Promise<RoleView> {
    const r = await this.store.auth.createRole({ name: spec.name, description: spec.description, grants: spec.grants, createdBy: actor, at: this.nowIso() });
    const role = customRole(r);
    return { name: role.name, description: role.description, builtin: false, grants: [...role.grants] };
  }

  async replaceRole(spec: RoleSpec): Promise<RoleView> {
    const r = await this.store.auth.replaceRole(spec.name, { description: spec.description, grants: spec.grants }, this.nowIso());
    if (!r) throw new RollgateError('not_found', `no custom role "${spec.name}"; create it with POST /v1/roles`);
    return { name: r.name, description: r.description, builtin: false, grants: r.grants };
  }

  async deleteRole(name: string): Promise<void> {
    if (isBuiltinRole(name)) throw new RollgateError('invalid_input', `"${name}" is a built-in role; only custom roles can be deleted`);
    const holders = (await this.store.auth.listUsers()).filter((u) => u.roles.includes(name)).map((u) => u.name);
    if (holders.length) throw new RollgateError('conflict', `role "${name}" is held by ${holders.join(', ')}; take it from them first (\`rollgate users set NAME --role …\`)`);
    if (!(await this.store.auth.deleteRole(name))) throw new RollgateError('not_found', `no custom role "${name}"; list roles with GET /v1/roles`);
  }
}
