/**
 * Where the CLI finds the control plane and its token. Order (first wins):
 *   URL:   --server, $ROLLGATE_SERVER, `url` in <cwd>/.rollgate/server.json, http://127.0.0.1:7070
 *   token: $ROLLGATE_TOKEN, the token `rollgate login` saved for that URL (credentials.json in
 *          $XDG_CONFIG_HOME/rollgate or ~/.config/rollgate), api.token beside the server.json that
 *          gave the URL, <cwd>/.rollgate/api.token
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { RollgateError } from '../core/errors.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:7070';
export const DEFAULT_DATA_DIR = '.rollgate';

export interface ServerConfig {
  url: string;
  token: string | null;
  /** Where the URL came from, for error messages. */
  source: 'flag' | 'env' | 'server.json' | 'default';
  /** The token file that was read, if any. */
  tokenFile: string | null;
}

export interface DiscoverInput {
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const ServerJson = z.object({ url: z.string().url() }).passthrough();

export function discoverServer(input: DiscoverInput = {}): ServerConfig {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const localDir = resolve(cwd, DEFAULT_DATA_DIR);
  let url: string;
  let source: ServerConfig['source'];
  let tokenDir = localDir;
  if (input.flag) {
    url = input.flag;
    source = 'flag';
  } else if (env.ROLLGATE_SERVER) {
    url = env.ROLLGATE_SERVER;
    source = 'env';
  } else {
    const file = join(localDir, 'server.json');
    const fromFile = readServerJson(file);
    if (fromFile) {
      url = fromFile;
      source = 'server.json';
      tokenDir = dirname(file);
    } else {
      url = DEFAULT_SERVER;
      source = 'default';
    }
  }
  url = normalizeUrl(url, source);
  if (env.ROLLGATE_TOKEN) return { url, token: env.ROLLGATE_TOKEN.trim(), source, tokenFile: null };
  const saved = savedCredential(env, url);
  if (saved) return { url, token: saved.token, source, tokenFile: saved.file };
  const tokenFile = join(tokenDir, 'api.token');
  const token = readTokenFile(tokenFile);
  return { url, token, source, tokenFile: token === null ? null : tokenFile };
}

/** Reads `url` from a server.json; null when the file is absent. A broken file is an error the user must fix. */
export function readServerJson(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new RollgateError('invalid_input', `${file} is not valid JSON; delete it or restart \`rollgate up\` to rewrite it`);
  }
  const parsed = ServerJson.safeParse(raw);
  if (!parsed.success) throw new RollgateError('invalid_input', `${file} has no valid "url"; delete it or restart \`rollgate up\` to rewrite it`);
  return parsed.data.url;
}

export function readTokenFile(file: string): string | null {
  try {
    const t = readFileSync(file, 'utf8').trim();
    return t === '' ? null : t;
  } catch {
    return null;
  }
}

function normalizeUrl(url: string, source: ServerConfig['source']): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const where = source === 'flag' ? '--server' : source === 'env' ? 'ROLLGATE_SERVER' : source;
    throw new RollgateError('invalid_input', `${where} "${url}" is not a URL; expected e.g. http://127.0.0.1:7070`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new RollgateError('invalid_input', `server URL "${url}" must start with http:// or https://`);
  }
  return u.toString().replace(/\/+$/, '');
}

// ---- credentials saved by `rollgate login`

export interface SavedCredential {
  token: string;
  user: string;
  tokenId: string;
  expiresAt: string | null;
  savedAt: string;
}

const Credential = z.object({ token: z.string().min(1), user: z.string(), tokenId: z.string(), expiresAt: z.string().nullable(), savedAt: z.string() });
const CredentialsFile = z.object({ servers: z.record(z.string(), Credential) }).passthrough();
type CredentialsFile = z.infer<typeof CredentialsFile>;

/** `<config dir>/rollgate/credentials.json`; null without $XDG_CONFIG_HOME or $HOME (then nothing is saved or read). */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string | null {
  const base = env.XDG_CONFIG_HOME || (env.HOME ? join(env.HOME, '.config') : '');
  return base ? join(resolve(base), 'rollgate', 'credentials.json') : null;
}

function readCredentials(file: string): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { servers: {} };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new RollgateError('invalid_input', `${file} is not valid JSON; delete it and run \`rollgate login\` again`);
  }
  const parsed = CredentialsFile.safeParse(raw);
  if (!parsed.success) throw new RollgateError('invalid_input', `${file} is not a Rollgate credentials file; delete it and run \`rollgate login\` again`);
  return parsed.data;
}

/** The unexpired token saved for `url`, with the file it came from. */
export function savedCredential(env: NodeJS.ProcessEnv, url: string, now = new Date()): (SavedCredential & { file: string }) | null {
  const file = credentialsPath(env);
  if (!file) return null;
  const c = readCredentials(file).servers[url];
  if (!c || (c.expiresAt !== null && Date.parse(c.expiresAt) <= now.getTime())) return null;
  return { ...c, file };
}

/** Saves (or with null removes) the token for `url`: the file is 0600 in a 0700 directory, replaced atomically. */
export function writeCredential(env: NodeJS.ProcessEnv, url: string, cred: SavedCredential | null): string {
  const file = credentialsPath(env);
  if (!file) throw new RollgateError('invalid_input', 'cannot tell where to save credentials: set HOME or XDG_CONFIG_HOME (or use ROLLGATE_TOKEN instead)');
  const data = readCredentials(file);
  if (cred) data.servers[url] = cred;
  else delete data.servers[url];
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}
