/**
 * The first admin's one-time password, kept in `<dataDir>/initial-admin.txt` (mode 0600) from
 * the moment the admin is created until its first successful login: a first start that fails
 * after creating the admin (a taken port, a crash), or whose terminal output is lost, does not
 * lose the only way to log in. Every start says where the file is while it exists.
 */
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const INITIAL_ADMIN_FILE = 'initial-admin.txt';
export const initialAdminPath = (dataDir: string) => join(dataDir, INITIAL_ADMIN_FILE);

export function writeInitialAdminFile(dataDir: string, user: string, password: string): string {
  const file = initialAdminPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  const text = [
    '# Rollgate: the first admin, created on the first start of this data directory.',
    '# This file is deleted at that admin\'s first successful login (`rollgate login`).',
    `user: ${user}`,
    `password: ${password}`,
    '',
  ].join('\n');
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

export function readInitialAdminFile(dataDir: string): { user: string; password: string; file: string } | null {
  const file = initialAdminPath(dataDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const user = /^user: (.+)$/m.exec(text)?.[1]?.trim();
  const password = /^password: (.+)$/m.exec(text)?.[1]?.trim();
  return user && password ? { user, password, file } : null;
}

/** Deletes the file once the admin it names has logged in (another user's login leaves it). */
export function removeInitialAdminFile(dataDir: string, user: string): boolean {
  const saved = readInitialAdminFile(dataDir);
  if (!saved || saved.user !== user) return false;
  rmSync(saved.file, { force: true });
  return true;
}
