/**
 * Password hashing with scrypt (node:crypto). The stored string carries its parameters and salt:
 * `scrypt$<log2 N>$<r>$<p>$<salt b64url>$<hash b64url>`, so the cost can be raised later
 * without breaking existing hashes (`needsRehash`). Verification compares in constant time.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { RollgateError } from '../../core/errors.js';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  logN: number;
  r: number;
  p: number;
}

/** N = 2^15, r = 8: 32 MiB and some tens of milliseconds per hash. */
export const DEFAULT_SCRYPT: ScryptParams = { logN: 15, r: 8, p: 1 };
const KEY_LEN = 32;
const SALT_LEN = 16;
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * scrypt runs on libuv's small thread pool, which file I/O shares: a burst of logins must not
 * take all of it. At most this many hashes run at once; the others wait their turn.
 */
const MAX_CONCURRENT = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function scrypt(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    const N = 2 ** p.logN;
    // Node refuses more than 32 MiB unless told: allow what these parameters need, and a margin.
    const opts: ScryptOptions = { N, r: p.r, p: p.p, maxmem: 256 * N * p.r + 1024 * 1024 };
    return await new Promise((ok, fail) => scryptCb(password.normalize('NFC'), salt, KEY_LEN, opts, (e, key) => (e ? fail(e) : ok(key))));
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await scrypt(password, salt, params);
  return ['scrypt', params.logN, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

interface Parsed {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

const STORED_RE = /^scrypt\$(\d{1,2})\$(\d{1,3})\$(\d{1,2})\$([A-Za-z0-9_-]{16,128})\$([A-Za-z0-9_-]{16,256})$/;

function parse(stored: string): Parsed | null {
  const m = STORED_RE.exec(stored);
  if (!m) return null;
  const params = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  // Bounds keep a corrupted row from asking for gigabytes.
  if (params.logN < 1 || params.logN > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) return null;
  return { params, salt: Buffer.from(m[4]!, 'base64url'), key: Buffer.from(m[5]!, 'base64url') };
}

/** Whether `password` matches the stored string; false (never an error) for a malformed one. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const key = await scrypt(password, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

// One fixed salt for the dummy: the point is the time it takes, not the result.
const DUMMY_SALT = randomBytes(SALT_LEN);

/**
 * Spends as long as a real verification, for a login whose user does not exist or cannot log
 * in with a password, so the answer's timing does not tell.
 */
export async function dummyVerify(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<false> {
  await scrypt(password, DUMMY_SALT, params);
  return false;
}

/** Whether a stored hash is weaker than `params` (rehash it at the next successful login). */
export function needsRehash(stored: string, params: ScryptParams = DEFAULT_SCRYPT): boolean {
  const parsed = parse(stored);
  return !parsed || parsed.params.logN < params.logN || parsed.params.r < params.r || parsed.params.p < params.p;
}

/** A password a user chose: long enough, not absurdly long. */
export function checkPasswordPolicy(password: string, where = 'password'): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new RollgateError('invalid_input', `${where} is too short: use at least ${MIN_PASSWORD_LENGTH} characters (a phrase of several words is fine)`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new RollgateError('invalid_input', `${where} is too long: at most ${MAX_PASSWORD_LENGTH} characters`);
}

/** A random password for a new account: 24 characters, about 144 bits. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
