/**
 * The API token: random, shown (written to a 0600 file) once, stored in the database only as a
 * sha256 hash, compared in constant time. Roles and per-user tokens build on this later.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../store/types.js';

const SETTING = 'api_token_sha256';

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Returns the token this server accepts. First start: generate one, record its hash, write it to
 * `<dataDir>/api.token`. Later starts: reuse the file if its hash matches the store's.
 */
export async function ensureApiToken(store: Store, dataDir: string, given?: string): Promise<{ token: string; hash: Buffer }> {
  const file = join(dataDir, 'api.token');
  const stored = await store.getSetting(SETTING);
  let token = given;
  if (!token) {
    const onDisk = await readFile(file, 'utf8').then((t) => t.trim(), () => null);
    if (onDisk && (!stored || tokenHash(onDisk).toString('hex') === stored)) token = onDisk;
  }
  if (!token) token = `rg_${randomBytes(32).toString('base64url')}`;
  const hash = tokenHash(token);
  if (stored !== hash.toString('hex')) await store.setSetting(SETTING, hash.toString('hex'));
  await writeFile(file, token + '\n', { mode: 0o600 });
  return { token, hash };
}

export function tokenMatches(presented: string, expectedHash: Buffer): boolean {
  return timingSafeEqual(tokenHash(presented), expectedHash);
}
