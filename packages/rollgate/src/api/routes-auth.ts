/**
 * Login, sessions, users, API tokens and custom roles. Who may call each route is in
 * api/route-permissions.ts; these handlers only parse and act.
 *
 *   POST   /v1/auth/login     { user, password }           -> { user, roles, csrfToken, expiresAt } + session cookie; 401; 429 + Retry-After while throttled
 *   POST   /v1/auth/logout                                 -> { ok }  (ends the session, or revokes the token used)
 *   GET    /v1/auth/me                                     -> { user, roles, via, expiresAt, tokenId?, csrfToken? }
 *   POST   /v1/auth/password  { current, new }             -> { ok }  (own password; ends own sessions)
 *   GET    /v1/users                                       -> UserView[]
 *   POST   /v1/users          { name, roles, password? | generatePassword? }  -> { user, password? } (201)
 *   PATCH  /v1/users/:name    { roles?, disabled?, password? | generatePassword? | removePassword? } -> { user, password? }
 *   DELETE /v1/users/:name                                 -> { deleted: UserView }
 *   POST   /v1/users/:name/unlock { address? }             -> { user, address, cleared: ThrottleView[] } (login waits of that name: from one address, or all)
 *   GET    /v1/tokens?all=&user=                           -> TokenView[] (own unless all/user)
 *   POST   /v1/tokens         { name?, roles?, expires?: '30d' | 'never', user? } -> TokenView & { token } (201; the token is shown once)
 *   DELETE /v1/tokens/:id                                  -> TokenView (revoked; refused from the next request on)
 *   GET    /v1/roles                                       -> RoleView[] (built-in and custom)
 *   POST   /v1/roles          { name, description?, grants } -> RoleView (201)
 *   PUT    /v1/roles/:name    { name, description?, grants } -> RoleView
 *   DELETE /v1/roles/:name                                 -> { deleted: name }
 */
import { isIP } from 'node:net';
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { ROLE_NAME_RE, RoleSpec } from '../core/authz.js';
import { RollgateError } from '../core/errors.js';
import type { Accounts } from '../engine/auth/accounts.js';
import { USER_NAME_RE } from '../engine/auth/accounts.js';
import { AUTH_MESSAGES, type Auth, type LoginResult } from '../engine/auth/auth.js';
import type { LoginAttemptKind, LoginAudit } from '../engine/auth/login-audit.js';
import { MAX_PASSWORD_LENGTH } from '../engine/auth/passwords.js';
import type { Principal } from '../engine/auth/principal.js';
import { SESSION_COOKIE } from '../engine/auth/sessions.js';
import { TOKEN_ID_RE, TOKEN_NAME_RE } from '../engine/auth/tokens.js';
import { requestSource } from '../engine/audit-hooks.js';
import { clientAddress, isHttps } from './authz.js';
import { jsonLimit, parse, readJson, type ApiEnv } from './http.js';

export interface AuthAuditEntry {
  /** e.g. auth.login, auth.login_failed, user.create, token.revoke, role.delete */
  action: string;
  /** e.g. user/alice, token/tok_…, role/shop-deployer */
  target: string;
  outcome: 'ok' | 'denied' | 'failed';
  /** Never a password, token or hash: views only. */
  before?: unknown;
  after?: unknown;
  /** Who acted, when the request itself carries no principal (a login). */
  actor?: string;
}

export interface AuthRouteDeps {
  auth: Auth;
  accounts: Accounts;
  /** Secure cookies: 'auto' when the request came over https (default), 'always' for a TLS proxy that does not say so. */
  secureCookies?: 'auto' | 'always';
  trustProxy?: boolean;
  /** Records what changed (the audit trail); called after each change (and each failed login without loginAudit). */
  audit?: (c: Context<ApiEnv>, e: AuthAuditEntry) => Promise<void>;
  /** Failed and throttled logins, aggregated per name, address and window (engine/auth/login-audit.ts). */
  loginAudit?: LoginAudit;
}

/** One cleared login wait, as the unlock route answers it. */
export interface ThrottleView {
  scope: 'account' | 'address';
  address: string;
  failures: number;
  blockedUntil: string | null;
}

const RoleName = z.string().regex(ROLE_NAME_RE, { message: 'role names are lower-case letters, digits and dashes, starting with a letter' });
const Roles = z.array(RoleName).min(1).max(50);
const UserName = z.string().regex(USER_NAME_RE, { message: 'user names are lower-case letters, digits, ".", "_" and "-", starting with a letter' });
const Password = z.string().max(MAX_PASSWORD_LENGTH);

export const LoginRequest = z.object({ user: z.string().max(200), password: Password }).strict();
export const UnlockRequest = z
  .object({ address: z.string().trim().refine((a) => isIP(a) !== 0, { message: 'give the client address as an IPv4 or IPv6 address, e.g. 192.0.2.7' }).optional() })
  .strict();
export const PasswordChangeRequest = z.object({ current: Password, new: Password }).strict();
export const NewUserRequest = z.object({ name: UserName, roles: Roles, password: Password.optional(), generatePassword: z.boolean().optional() }).strict();
export const UserPatchRequest = z
  .object({ roles: Roles.optional(), disabled: z.boolean().optional(), password: Password.optional(), generatePassword: z.boolean().optional(), removePassword: z.boolean().optional() })
  .strict();
export const NewTokenRequest = z
  .object({
    name: z.string().regex(TOKEN_NAME_RE, { message: 'token names are letters, digits, spaces and ._:@/+- (at most 100)' }).optional(),
    roles: Roles.optional(),
    expires: z.string().max(20).optional(),
    user: UserName.optional(),
  })
  .strict();
export const TokensQuery = z.object({ all: z.enum(['true', 'false', '1', '0']).optional(), user: UserName.optional() });

const principalOf = (c: Context<ApiEnv>): Principal => {
  const p = c.get('principal');
  if (!p) throw new RollgateError('unauthorized', AUTH_MESSAGES.missing);
  return p;
};

export function registerAuthRoutes(app: Hono<ApiEnv>, d: AuthRouteDeps): void {
  const small = jsonLimit(16 * 1024);
  const audit = async (c: Context<ApiEnv>, e: AuthAuditEntry) => {
    if (d.audit) await d.audit(c, e);
  };
  // Answers carrying a password or a token must not sit in any cache.
  const noStore = (c: Context) => c.header('Cache-Control', 'no-store');

  app.post('/v1/auth/login', jsonLimit(8 * 1024), async (c) => {
    const body = parse(LoginRequest, await readJson(c), 'body');
    const r = await d.auth.login(body.user, body.password, { address: clientAddress(c, d.trustProxy) ?? undefined, userAgent: c.req.header('user-agent') });
    const target = `user/${body.user.trim().toLowerCase().slice(0, 64)}`;
    if (!r.ok) {
      const kind: LoginAttemptKind = r.reason === 'throttled' ? 'refused' : 'failed';
      if (d.loginAudit) await d.loginAudit.attempt(kind, body.user, requestSource(c, { trustProxy: d.trustProxy }), r.reason === 'throttled' && r.scope === 'address');
      else await audit(c, { action: kind === 'refused' ? 'auth.login_throttled' : 'auth.login_failed', target, outcome: 'denied', actor: 'anonymous' });
      if (r.reason === 'throttled') {
        c.header('Retry-After', String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))));
        return c.json(new RollgateError('too_many_requests', throttledMessage(r, clientAddress(c, d.trustProxy))).toJSON(), 429);
      }
      throw new RollgateError('unauthorized', AUTH_MESSAGES.login);
    }
    setCookie(c, SESSION_COOKIE, r.sessionId, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: d.secureCookies === 'always' || isHttps(c, d.trustProxy),
      path: '/',
      maxAge: Math.floor(d.auth.sessionMaxMs / 1000),
    });
    noStore(c);
    await audit(c, { action: 'auth.login', target, outcome: 'ok', actor: r.principal.actor });
    return c.json({ user: r.principal.user.name, roles: r.principal.roleNames, csrfToken: r.csrfToken, expiresAt: r.expiresAt });
  });

  app.post('/v1/auth/logout', small, async (c) => {
    const p = principalOf(c);
    await d.auth.logout(p);
    if (p.via === 'session') deleteCookie(c, SESSION_COOKIE, { path: '/', secure: d.secureCookies === 'always' || isHttps(c, d.trustProxy) });
    await audit(c, { action: 'auth.logout', target: p.via === 'token' ? `token/${p.token?.id}` : `user/${p.user.name}`, outcome: 'ok' });
    return c.json({ ok: true });
  });

  app.get('/v1/auth/me', (c) => {
    const p = principalOf(c);
    const cookie = p.via === 'session' ? getCookie(c, SESSION_COOKIE) : undefined;
    if (cookie) noStore(c);
    return c.json({
      user: p.user.name,
      roles: p.roleNames,
      via: p.via,
      expiresAt: p.via === 'session' ? (p.session?.expiresAt ?? null) : (p.token?.expiresAt ?? null),
      ...(p.token ? { tokenId: p.token.id } : {}),
      ...(cookie ? { csrfToken: d.auth.csrfTokenFor(cookie) } : {}),
    });
  });

  app.post('/v1/auth/password', small, async (c) => {
    const p = principalOf(c);
    const body = parse(PasswordChangeRequest, await readJson(c), 'body');
    await d.accounts.changeOwnPassword(p, body.current, body.new);
    await audit(c, { action: 'user.password', target: `user/${p.user.name}`, outcome: 'ok' });
    return c.json({ ok: true });
  });

  // ---- users

  app.get('/v1/users', async (c) => c.json(await d.accounts.listUsers()));

  app.post('/v1/users', small, async (c) => {
    const body = parse(NewUserRequest, await readJson(c), 'body');
    const r = await d.accounts.createUser(body, c.get('actor'));
    noStore(c);
    await audit(c, { action: 'user.create', target: `user/${r.user.name}`, outcome: 'ok', after: r.user });
    return c.json(r, 201);
  });

  app.patch('/v1/users/:name', small, async (c) => {
    const name = parse(UserName, c.req.param('name'), 'user');
    const body = parse(UserPatchRequest, await readJson(c), 'body');
    const before = (await d.accounts.listUsers()).find((u) => u.name === name);
    const r = await d.accounts.updateUser(name, body, c.get('actor'));
    noStore(c);
    await audit(c, { action: 'user.update', target: `user/${name}`, outcome: 'ok', before, after: { ...r.user, passwordChanged: body.password !== undefined || body.generatePassword === true || body.removePassword === true } });
    return c.json(r);
  });

  app.delete('/v1/users/:name', async (c) => {
    const name = parse(UserName, c.req.param('name'), 'user');
    const deleted = await d.accounts.deleteUser(name);
    await audit(c, { action: 'user.delete', target: `user/${name}`, outcome: 'ok', before: deleted });
    return c.json({ deleted });
  });

  app.post('/v1/users/:name/unlock', small, async (c) => {
    const name = parse(UserName, c.req.param('name'), 'user');
    const body = parse(UnlockRequest, await readJson(c), 'body');
    const rows = await d.auth.throttle.unlock(name, body.address);
    if (rows.length === 0 && !(await d.auth.store.auth.getUserByName(name))) {
      throw new RollgateError('not_found', `no user "${name}" and no login waits for that name; list users with \`rollgate users\``);
    }
    const cleared: ThrottleView[] = rows.map((r) => ({ scope: r.name === null ? 'address' : 'account', address: r.address, failures: r.failures, blockedUntil: r.blockedUntil }));
    const answer = { user: name, address: body.address ?? null, cleared };
    await audit(c, { action: 'users.unlock', target: `user/${name}`, outcome: 'ok', after: answer });
    return c.json(answer);
  });

  // ---- tokens

  app.get('/v1/tokens', async (c) => {
    const q = parse(TokensQuery, c.req.query(), 'query');
    return c.json(await d.accounts.listTokens(principalOf(c), { all: q.all === 'true' || q.all === '1', user: q.user }));
  });

  app.post('/v1/tokens', small, async (c) => {
    const body = parse(NewTokenRequest, await readJson(c), 'body');
    const { token, record } = await d.accounts.createToken(principalOf(c), body);
    noStore(c);
    await audit(c, { action: 'token.create', target: `token/${record.id}`, outcome: 'ok', after: record });
    return c.json({ ...record, token }, 201);
  });

  app.delete('/v1/tokens/:id', async (c) => {
    const id = parse(z.string().regex(TOKEN_ID_RE, { message: 'token ids look like tok_0123456789abcdef' }), c.req.param('id'), 'token id');
    const r = await d.accounts.revokeToken(id);
    await audit(c, { action: 'token.revoke', target: `token/${id}`, outcome: 'ok', after: r });
    return c.json(r);
  });

  // ---- roles

  app.get('/v1/roles', async (c) => c.json(await d.accounts.listRoles()));

  app.post('/v1/roles', jsonLimit(64 * 1024), async (c) => {
    const spec = parse(RoleSpec, await readJson(c), 'body');
    const r = await d.accounts.createRole(spec, c.get('actor'));
    await audit(c, { action: 'role.create', target: `role/${r.name}`, outcome: 'ok', after: r });
    return c.json(r, 201);
  });

  app.put('/v1/roles/:name', jsonLimit(64 * 1024), async (c) => {
    const name = parse(RoleName, c.req.param('name'), 'role');
    const spec = parse(RoleSpec, await readJson(c), 'body');
    if (spec.name !== name) throw new RollgateError('invalid_input', `the body names role "${spec.name}" but the path "${name}"; a role cannot be renamed, create a new one`);
    const before = (await d.accounts.listRoles()).find((r) => r.name === name);
    const r = await d.accounts.replaceRole(spec);
    await audit(c, { action: 'role.update', target: `role/${name}`, outcome: 'ok', before, after: r });
    return c.json(r);
  });

  app.delete('/v1/roles/:name', async (c) => {
    const name = parse(RoleName, c.req.param('name'), 'role');
    const before = (await d.accounts.listRoles()).find((r) => r.name === name);
    await d.accounts.deleteRole(name);
    await audit(c, { action: 'role.delete', target: `role/${name}`, outcome: 'ok', before });
    return c.json({ deleted: name });
  });
}

function throttledMessage(r: Extract<LoginResult, { reason: 'throttled' }>, address: string | null): string {
  const secs = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
  const wait = `wait ${secs} second${secs === 1 ? '' : 's'} (until ${r.until.toISOString()}) and try again`;
  const from = address ? ` ${address}` : '';
  return r.scope === 'account'
    ? `too many failed logins for this user name from your address${from}; ${wait}; each further failure doubles the wait (logins from other addresses are not affected); an admin can clear it with \`rollgate users unlock <name>\``
    : `too many failed logins from your address${from} (all user names together); ${wait}; each further failure doubles the wait; an admin can clear it with \`rollgate users unlock <name> --address${from || ' <address>'}\``;
}
