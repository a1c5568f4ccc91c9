/**
 * First start: create the user `admin` with a random password and an admin API token, returned
 * so the server prints them once. The token is also written to `<dataDir>/api.token` (mode
 * 0600), so `rollgate up` and the CLI on the same machine keep working without a login.
 *
 * An older data directory (before users existed) kept one token, hashed in the setting
 * `api_token_sha256`: it is imported as the admin's token, so its api.token keeps working.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { RollgateError } from '../../core/errors.js';
import type { ApiTokenRecord, UserRecord } from '../../store/auth-types.js';
import type { Store } from '../../store/types.js';
import { DEFAULT_SCRYPT, generatePassword, hashPassword, type ScryptParams } from './passwords.js';
import { generateToken, isWellFormedToken, newTokenId, tokenHashHex } from './tokens.js';
import { readInitialAdminFile, writeInitialAdminFile } from './initial-admin-file.js';

export const LEGACY_TOKEN_SETTING = 'api_token_sha256';
export const ADMIN_USER = 'admin';
const BY = 'system:bootstrap';

export interface BootstrapOptions {
  /** Use this admin token (it is registered if it is not yet). */
  token?: string | undefined;
  scrypt?: ScryptParams;
  now?: () => Date;
}

export interface BootstrapResult {
  /** True on the first start: print `password` and `token` once, now. */
  created: boolean;
  user: string;
  /** The admin's password, only when just created. */
  password: string | null;
  /** The token in api.token when it is (still) valid, else null (e.g. revoked: run `rollgate login`). */
  token: string | null;
  tokenFile: string;
  /** The token of an older data directory was imported. */
  imported: boolean;
  /** `<dataDir>/initial-admin.txt` while the first admin has not logged in yet (it holds the password), else null. */
  passwordFile: string | null;
}

async function writeTokenFile(file: string, token: string): Promise<void> {
  await writeFile(file, token + '\n', { mode: 0o600 });
  // writeFile keeps the mode of an existing file.
  await chmod(file, 0o600);
}

async function readTokenFile(file: string): Promise<string | null> {
  const t = await readFile(file, 'utf8').then((x) => x.trim(), () => '');
  return t === '' ? null : t;
}

function usable(t: ApiTokenRecord | null, user: UserRecord | null, now: Date): boolean {
  return t !== null && user !== null && !user.disabled && t.revokedAt === null && (t.expiresAt === null || Date.parse(t.expiresAt) > now.getTime());
}

export async function bootstrapAdmin(store: Store, dataDir: string, opts: BootstrapOptions = {}): Promise<BootstrapResult> {
  const now = opts.now ?? (() => new Date());
  const tokenFile = join(dataDir, 'api.token');
  if (opts.token !== undefined && !isWellFormedToken(opts.token)) {
    throw new RollgateError('invalid_input', 'the given API token is malformed: tokens are "rg_" followed by 43 base64url characters; leave it out to have one generated');
  }
  if ((await store.auth.countUsers()) === 0) {
    const password = generatePassword();
    let admin: UserRecord | null = null;
    try {
      admin = await store.auth.createUser({
        id: randomUUID(),
        name: ADMIN_USER,
        passwordHash: await hashPassword(password, opts.scrypt ?? DEFAULT_SCRYPT),
        roles: ['admin'],
        createdBy: BY,
        at: now().toISOString(),
      });
    } catch (e) {
      // Another server sharing the database created it first: carry on as a later start.
      if (!(e instanceof RollgateError && e.code === 'conflict')) throw e;
    }
    if (admin) {
      // Before anything else can fail: the password must outlive a start that fails now.
      const passwordFile = writeInitialAdminFile(dataDir, admin.name, password);
      return { ...(await firstStart(store, admin, password, tokenFile, opts, now)), passwordFile };
    }
  }
  return { ...(await laterStart(store, tokenFile, opts, now)), passwordFile: readInitialAdminFile(dataDir)?.file ?? null };
}

async function firstStart(store: Store, admin: UserRecord, password: string, tokenFile: string, opts: BootstrapOptions, now: () => Date): Promise<Omit<BootstrapResult, 'passwordFile'>> {
  const add = (hash: string, name: string) =>
    store.auth.createToken({ id: newTokenId(), userId: admin.id, name, hash, roles: null, expiresAt: null, createdBy: BY, at: now().toISOString() });
  let token: string | null = null;
  let imported = false;
  const legacy = await store.getSetting(LEGACY_TOKEN_SETTING);
  if (legacy && /^[0-9a-f]{64}$/.test(legacy)) {
    await add(legacy, 'api.token (imported)');
    imported = true;
    const onDisk = await readTokenFile(tokenFile);
    if (onDisk !== null && tokenHashHex(onDisk) === legacy) token = onDisk;
  }
  if (opts.token !== undefined) {
    if (tokenHashHex(opts.token) !== legacy) await add(tokenHashHex(opts.token), 'api.token');
    token = opts.token;
  } else if (!imported) {
    token = generateToken();
    await add(tokenHashHex(token), 'api.token');
  }
  if (token !== null) await writeTokenFile(tokenFile, token);
  return { created: true, user: admin.name, password, token, tokenFile, imported };
}

async function laterStart(store: Store, tokenFile: string, opts: BootstrapOptions, now: () => Date): Promise<Omit<BootstrapResult, 'passwordFile'>> {
  if (opts.token !== undefined) {
    const hash = tokenHashHex(opts.token);
    if (!(await store.auth.getTokenByHash(hash))) {
      const admins = (await store.auth.listUsers()).filter((u) => !u.disabled && u.roles.includes('admin'));
      const owner = admins.find((u) => u.name === ADMIN_USER) ?? admins[0];
      if (!owner) throw new RollgateError('conflict', 'no enabled admin to own the given API token; enable an admin first');
      await store.auth.createToken({ id: newTokenId(), userId: owner.id, name: 'api.token', hash, roles: null, expiresAt: null, createdBy: BY, at: now().toISOString() });
    }
    await writeTokenFile(tokenFile, opts.token);
  }
  const onDisk = opts.token ?? (await readTokenFile(tokenFile));
  let token: string | null = null;
  if (onDisk !== null && isWellFormedToken(onDisk)) {
    const rec = await store.auth.getTokenByHash(tokenHashHex(onDisk));
    const user = rec ? await store.auth.getUser(rec.userId) : null;
    if (usable(rec, user, now())) token = onDisk;
  }
  return { created: false, user: ADMIN_USER, password: null, token, tokenFile, imported: false };
}
