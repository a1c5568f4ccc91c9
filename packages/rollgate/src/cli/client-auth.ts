/**
 * Client of the auth routes (api/routes-auth.ts). `loginForToken` talks to the server without an
 * ApiClient: it logs in with a password (session cookie + CSRF token), creates an API token with
 * that session, and ends the session; the CLI then keeps only the token.
 */
import { request } from 'undici';
import { z } from 'zod';
import type { RoleView, TokenView, UserView } from '../engine/auth/accounts.js';
import type { GrantSpec } from '../core/authz.js';
import { RollgateError, errorMessage } from '../core/errors.js';
import type { ApiClient } from './client.js';
import { ApiError } from './exit.js';

export interface MeView {
  user: string;
  roles: string[];
  via: 'token' | 'session';
  expiresAt: string | null;
  tokenId?: string;
  csrfToken?: string;
}

export type CreatedToken = TokenView & { token: string };

export const me = (c: ApiClient) => c.request<MeView>('GET', '/v1/auth/me');
export const logout = (c: ApiClient) => c.request<{ ok: boolean }>('POST', '/v1/auth/logout');

export const listUsers = (c: ApiClient) => c.request<UserView[]>('GET', '/v1/users');
export const createUser = (c: ApiClient, body: { name: string; roles: string[]; password?: string; generatePassword?: boolean }) =>
  c.request<{ user: UserView; password?: string }>('POST', '/v1/users', { body });
export const updateUser = (c: ApiClient, name: string, body: { roles?: string[]; disabled?: boolean; password?: string; generatePassword?: boolean; removePassword?: boolean }) =>
  c.request<{ user: UserView; password?: string }>('PATCH', `/v1/users/${encodeURIComponent(name)}`, { body });
export const deleteUser = (c: ApiClient, name: string) => c.request<{ deleted: UserView }>('DELETE', `/v1/users/${encodeURIComponent(name)}`);
export interface UnlockResult {
  user: string;
  address: string | null;
  cleared: { scope: 'account' | 'address'; address: string; failures: number; blockedUntil: string | null }[];
}
export const unlockUser = (c: ApiClient, name: string, address?: string) =>
  c.request<UnlockResult>('POST', `/v1/users/${encodeURIComponent(name)}/unlock`, { body: address === undefined ? {} : { address } });

export const listTokens = (c: ApiClient, q: { all?: boolean; user?: string | undefined } = {}) =>
  c.request<TokenView[]>('GET', '/v1/tokens', { query: { all: q.all ? 'true' : undefined, user: q.user } });
export const createToken = (c: ApiClient, body: { name?: string | undefined; roles?: string[] | undefined; expires?: string | undefined; user?: string | undefined }) =>
  c.request<CreatedToken>('POST', '/v1/tokens', { body: Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) });
export const revokeToken = (c: ApiClient, id: string) => c.request<TokenView>('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);

export const listRoles = (c: ApiClient) => c.request<RoleView[]>('GET', '/v1/roles');
export const createRole = (c: ApiClient, role: { name: string; description?: string; grants: GrantSpec[] }) => c.request<RoleView>('POST', '/v1/roles', { body: role });

const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

async function post(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; setCookie: string[] }> {
  let res;
  try {
    res = await request(baseUrl + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
  } catch (e) {
    const cause = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : errorMessage(e);
    throw new RollgateError('unavailable', `cannot reach the Rollgate server at ${baseUrl} (${cause}); check --server / ROLLGATE_SERVER`);
  }
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // handled below
  }
  if (res.statusCode >= 400) {
    const e = ErrorBody.safeParse(json);
    if (e.success) throw new ApiError(e.data.error.code, e.data.error.message, res.statusCode);
    throw new ApiError(`http_${res.statusCode}`, `the server at ${baseUrl} answered HTTP ${res.statusCode}`, res.statusCode);
  }
  const raw = res.headers['set-cookie'];
  return { status: res.statusCode, json, setCookie: raw === undefined ? [] : Array.isArray(raw) ? raw : [raw] };
}

/** Password login -> a fresh API token (the session used for it is ended at once). */
export async function loginForToken(baseUrl: string, opts: { user: string; password: string; tokenName: string; expires: string }): Promise<CreatedToken> {
  const login = await post(baseUrl, '/v1/auth/login', { user: opts.user, password: opts.password });
  const cookie = login.setCookie.map((c) => c.split(';')[0]!).find((c) => c.startsWith('rollgate_session='));
  const csrf = (login.json as { csrfToken?: unknown } | null)?.csrfToken;
  if (!cookie || typeof csrf !== 'string') throw new ApiError('bad_response', `the server at ${baseUrl} accepted the login but sent no session; is it a Rollgate server?`, 502);
  const session = { cookie, 'x-csrf-token': csrf };
  try {
    const created = await post(baseUrl, '/v1/tokens', { name: opts.tokenName, expires: opts.expires }, session);
    return created.json as CreatedToken;
  } finally {
    await post(baseUrl, '/v1/auth/logout', {}, session).catch(() => undefined);
  }
}
