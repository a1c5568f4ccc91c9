/**
 * Browser sessions: a random id in an HttpOnly cookie, stored only as its sha256 hash; a CSRF
 * token derived from the id (HMAC), stored as a hash too. Deriving it means the dashboard can get
 * it again after a reload (GET /v1/auth/me) while a page on another site, which cannot read the
 * cookie, cannot compute it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'rollgate_session';
export const CSRF_HEADER = 'X-CSRF-Token';
export const SESSION_ID_RE = /^[A-Za-z0-9_-]{43}$/;

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function csrfTokenFor(sessionId: string): string {
  return createHmac('sha256', sessionId).update('rollgate csrf v1').digest('base64url');
}

/** Constant-time check of a presented CSRF token against the stored hash. */
export function csrfMatches(presented: string | undefined, storedHex: string): boolean {
  if (presented === undefined || presented.length === 0 || presented.length > 256) return false;
  const given = createHash('sha256').update(presented, 'utf8').digest();
  const stored = Buffer.from(storedHex, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}
