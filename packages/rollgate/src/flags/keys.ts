/**
 * SDK keys: what an app's SDK presents to read the flags of one (app, environment). `rgs_`
 * (server: every rule) or `rgc_` (client: a browser or phone, evaluated answers only) and 32
 * random bytes in base64url. Shown once at creation; only the sha256 hash is stored, and a
 * listing shows the first characters (enough to tell keys apart, never to use one).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FlagKeyKind } from '../store/flags-types.js';

export const FLAG_KEY_PREFIX: Readonly<Record<FlagKeyKind, string>> = { server: 'rgs_', client: 'rgc_' };
export const FLAG_KEY_RE = /^rg[sc]_[A-Za-z0-9_-]{43}$/;
export const FLAG_KEY_ID_RE = /^fk_[0-9a-f]{16}$/;
/** Characters of a key shown in listings: the kind prefix and 8 of the random part. */
export const SHOWN_PREFIX_CHARS = 12;

export function generateFlagKey(kind: FlagKeyKind): string {
  return `${FLAG_KEY_PREFIX[kind]}${randomBytes(32).toString('base64url')}`;
}

export function newFlagKeyId(): string {
  return `fk_${randomBytes(8).toString('hex')}`;
}

export function flagKeyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
