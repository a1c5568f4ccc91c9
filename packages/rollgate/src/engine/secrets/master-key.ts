/**
 * The master key: 32 bytes from ROLLGATE_MASTER_KEY (hex or base64) or from
 * `<dataDir>/master.key`, created on first start with mode 0600. Everything that needs a key
 * (secret encryption, the audit trail's HMAC) derives its own with `deriveKey`, so no two
 * purposes ever share key material. No message here ever contains the key or part of it.
 */
import { randomBytes, hkdfSync } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RollgateError } from '../../core/errors.js';

export const MASTER_KEY_ENV = 'ROLLGATE_MASTER_KEY';
export const MASTER_KEY_FILE = 'master.key';
export const MASTER_KEY_BYTES = 32;

export interface MasterKey {
  key: Buffer;
  /** Where it came from, for the start-up log (never the key itself). */
  source: 'env' | 'file' | 'created';
  /** The key file, when the key came from (or was written to) one. */
  file: string | null;
}

const HOW = `give 32 random bytes as 64 hex digits or 44 base64 characters (e.g. \`openssl rand -base64 32\`)`;

/** Decodes a key given as text (hex or base64/base64url); `where` names the source in errors. */
export function parseMasterKey(text: string, where: string): Buffer {
  const t = text.trim();
  if (t === '') throw new RollgateError('invalid_input', `${where} is empty; ${HOW}`);
  let key: Buffer;
  // All hex digits: hex, unless it has the length of base64 of 32 bytes (which may, rarely, be all hex digits).
  if (/^[0-9a-fA-F]+$/.test(t) && t.length !== 43 && t.length !== 44) {
    if (t.length % 2 !== 0) throw new RollgateError('invalid_input', `${where} has an odd number of hex digits (${t.length}); ${HOW}`);
    key = Buffer.from(t, 'hex');
  }
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  else throw new RollgateError('invalid_input', `${where} is neither hex nor base64 (it has other characters); ${HOW}`);
  if (key.length !== MASTER_KEY_BYTES) {
    throw new RollgateError('invalid_input', `${where} decodes to ${key.length} bytes, not ${MASTER_KEY_BYTES}; ${HOW}`);
  }
  return key;
}

/**
 * Loads the master key: the environment variable when set (an empty value counts as unset), else
 * the key file, which is created on first start. Refuses a key file that group or others can
 * read, a file that is not a regular file, and a malformed key.
 */
export function loadMasterKey(opts: { dataDir: string; env?: NodeJS.ProcessEnv }): MasterKey {
  const fromEnv = (opts.env ?? process.env)[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { key: parseMasterKey(fromEnv, MASTER_KEY_ENV), source: 'env', file: null };
  const file = join(opts.dataDir, MASTER_KEY_FILE);
  const existing = readKeyFile(file);
  if (existing) return { key: existing, source: 'file', file };
  const created = createKeyFile(file);
  return created.won ? { key: created.key, source: 'created', file } : { key: created.key, source: 'file', file };
}

function readKeyFile(file: string): Buffer | null {
  let st;
  try {
    st = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RollgateError('unavailable', `cannot read the master key file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}); check the data directory's permissions`);
  }
  if (!st.isFile()) throw new RollgateError('unavailable', `the master key file ${file} is not a regular file (a symlink or directory); replace it with the key file itself`);
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw new RollgateError('unavailable', `the master key file ${file} can be read by other users (mode ${mode}); run \`chmod 600 ${file}\` and start again`);
  }
  return parseMasterKey(readFileSync(file, 'utf8'), `the master key file ${file}`);
}

/**
 * Writes a new random key to a temporary file (0600, fsynced), then hard-links it into place:
 * the link fails if another process created the file first, in which case its key is used. A
 * reader never sees a partial key file.
 */
function createKeyFile(file: string): { key: Buffer; won: boolean } {
  const dir = join(file, '..');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new RollgateError('unavailable', `cannot create the data directory ${dir} for the master key (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const key = randomBytes(MASTER_KEY_BYTES);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, key.toString('base64') + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const theirs = readKeyFile(file);
      if (!theirs) throw e;
      return { key: theirs, won: false };
    }
    fsyncDir(dir);
    return { key, won: true };
  } catch (e) {
    if (e instanceof RollgateError) throw e;
    throw new RollgateError('unavailable', `cannot create the master key file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}); check that the data directory is writable, or set ${MASTER_KEY_ENV}`);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

/** So the new directory entry survives a power loss (best effort: not every platform allows it). */
function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported here
  }
}

/** Salt of every derivation: fixed, so the same master key and purpose always give the same key. */
const HKDF_SALT = Buffer.from('rollgate/hkdf/v1', 'utf8');

/**
 * A 32-byte key of its own for one purpose (HKDF-SHA256): e.g. `secrets/aes-256-gcm/v1` for
 * secret encryption, `audit/hmac/v1` for the audit trail. Different purposes give unrelated keys.
 */
export function deriveKey(master: Buffer, purpose: string): Buffer {
  if (master.length !== MASTER_KEY_BYTES) throw new RollgateError('internal', `deriveKey needs a ${MASTER_KEY_BYTES}-byte master key`);
  if (purpose.trim() === '') throw new RollgateError('internal', 'deriveKey needs a purpose');
  return Buffer.from(hkdfSync('sha256', master, HKDF_SALT, Buffer.from(purpose, 'utf8'), 32));
}
