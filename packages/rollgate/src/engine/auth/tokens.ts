/**
 * API tokens: `rg_` and 32 random bytes in base64url (43 characters). Shown once; only the
 * sha256 hash is stored. A token id (`tok_…`) names a token in listings and revocation; it is
 * not a secret.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RollgateError } from '../../core/errors.js';
import { parseDuration } from '../../core/duration.js';

export const TOKEN_PREFIX = 'rg_';
export const TOKEN_RE = /^rg_[A-Za-z0-9_-]{43}$/;
export const TOKEN_ID_RE = /^tok_[0-9a-f]{16}$/;
export const TOKEN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._:@/+-]{0,99}$/;
/** The longest a token may live. */
export const MAX_TOKEN_LIFETIME_MS = 366 * 86_400_000;

export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function newTokenId(): string {
  return `tok_${randomBytes(8).toString('hex')}`;
}

export function isWellFormedToken(token: string): boolean {
  return TOKEN_RE.test(token);
}

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function tokenHashHex(token: string): string {
  return tokenHash(token).toString('hex');
}

/** Constant-time comparison of a presented token with a stored hex hash. */
export function tokenMatchesHash(token: string, storedHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  const given = tokenHash(token);
  return stored.length === given.length && timingSafeEqual(given, stored);
}

export type BearerResult = { kind: 'none' } | { kind: 'malformed' } | { kind: 'token'; token: string };

/** Reads an Authorization header: absent, not a well-formed bearer token, or the token. */
export function parseBearer(header: string | undefined): BearerResult {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const m = /^Bearer +(\S{1,512})\s*$/i.exec(header);
  if (!m || !isWellFormedToken(m[1]!)) return { kind: 'malformed' };
  return { kind: 'token', token: m[1]! };
}

/**
 * `30d`, `12h`, `90m` … or `never`: the expiry time of a token created at `now` (null: never).
 * At least a minute, at most 366 days.
 */
export function tokenExpiry(text: string, now: Date): string | null {
  const t = text.trim();
  if (t === 'never') return null;
  const ms = parseDuration(t, 'expires');
  if (ms < 60_000) throw new RollgateError('invalid_input', `expires: "${text}" is too short; give at least 1m (e.g. 30d)`);
  if (ms > MAX_TOKEN_LIFETIME_MS) throw new RollgateError('invalid_input', `expires: "${text}" is over 366 days; give a shorter time (e.g. 90d) or "never"`);
  return new Date(now.getTime() + ms).toISOString();
}
