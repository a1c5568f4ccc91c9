/**
 * Secrets of an app in an environment: set, list, remove, rotate, and resolve for instance
 * start. Values are encrypted before they reach the store; events and results carry names and
 * versions only; error messages never contain a value. Every value this process has seen is
 * remembered (in memory) so platform output can be masked with `mask`.
 */
import { RollgateError } from '../../core/errors.js';
import { SecretMasker, MIN_MASKED_LENGTH } from '../../core/secret-masker.js';
import type { SecretVersionMeta, StoredSecret } from '../../store/secrets-types.js';
import type { Store } from '../../store/types.js';
import { loadServiceConfig } from '../config-store.js';
import type { EventBus } from '../events.js';
import { SecretCipher } from './crypto.js';

/** Environment-variable names, upper case: what an app reads with process.env.NAME. */
export const SECRET_NAME_RE = /^[A-Z_][A-Z0-9_]*$/;
export const MAX_SECRET_NAME = 128;
/** Shorter values are refused: output masking would hide unrelated text, so they could leak. */
export const MIN_SECRET_LENGTH = MIN_MASKED_LENGTH;
export const MAX_SECRET_BYTES = 64 * 1024;
/** The platform sets these in every instance; a secret may not shadow them. */
const RESERVED_PREFIX = 'ROLLGATE_';

export interface SecretsDeps {
  store: Store;
  /** The 32-byte master key (master-key.ts `loadMasterKey`). */
  masterKey: Buffer;
  /** Changes become `secret.set`, `secret.rotated`, `secret.removed` events (names and versions only). */
  events?: EventBus;
}

export interface SecretSetResult extends SecretVersionMeta {
  /** False when the secret existed already. */
  created: boolean;
  /** False when the value was already the current one (nothing was written). */
  changed: boolean;
}

export interface SecretRotateResult extends SecretVersionMeta {
  previousVersion: number;
}

export interface SecretRemoveResult {
  app: string;
  env: string;
  name: string;
  /** The versions marked deleted. */
  versions: number[];
}

/** Checks a secret name; the message says what a name may be. */
export function checkSecretName(name: string): string {
  if (!SECRET_NAME_RE.test(name) || name.length > MAX_SECRET_NAME) {
    throw new RollgateError('invalid_input', `secret name "${name.slice(0, MAX_SECRET_NAME)}" is not an environment variable name: use upper-case letters, digits and _ (not starting with a digit, at most ${MAX_SECRET_NAME}), e.g. DB_PASSWORD`);
  }
  if (name.startsWith(RESERVED_PREFIX)) {
    throw new RollgateError('invalid_input', `secret name ${name} starts with ${RESERVED_PREFIX}, which the platform reserves for the variables it sets in every instance; pick another name`);
  }
  return name;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Checks a value (raw bytes as received, or text) and returns it as text. Messages never quote it. */
export function checkSecretValue(value: string | Uint8Array, name: string): string {
  const bytes = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
  if (bytes > MAX_SECRET_BYTES) throw new RollgateError('payload_too_large', `the value of ${name} is ${bytes} bytes; a secret value is at most ${MAX_SECRET_BYTES} bytes (64 KiB)`);
  let text: string;
  try {
    text = typeof value === 'string' ? value : utf8.decode(value);
  } catch {
    throw new RollgateError('invalid_input', `the value of ${name} is not valid UTF-8 text; an environment variable holds text (encode binary data, e.g. with base64)`);
  }
  if (text.includes('\0')) throw new RollgateError('invalid_input', `the value of ${name} contains a NUL character, which an environment variable cannot hold; encode it (e.g. with base64)`);
  const chars = [...text].length;
  if (chars < MIN_SECRET_LENGTH) {
    throw new RollgateError(
      'invalid_input',
      `the value of ${name} is ${chars} character${chars === 1 ? '' : 's'} long; secrets must be at least ${MIN_SECRET_LENGTH} characters, because shorter values cannot be masked in app output without hiding unrelated text`,
    );
  }
  return text;
}

function metaOf(s: StoredSecret): SecretVersionMeta {
  return { app: s.app, env: s.env, name: s.name, version: s.version, createdAt: s.createdAt, createdBy: s.createdBy };
}

/** Writers racing for the same version number: the loser tries the next one. */
const VERSION_ATTEMPTS = 5;

export class Secrets {
  private readonly cipher: SecretCipher;
  private readonly masker = new SecretMasker();
  private readonly known = new Map<string, string>();

  constructor(private readonly d: SecretsDeps) {
    this.cipher = new SecretCipher(d.masterKey);
  }

  /** Id of the key new values are sealed with (for the start-up log). */
  get keyId(): string {
    return this.cipher.keyId;
  }

  /** Creates the secret, or adds a new version of an existing one; setting the current value again changes nothing. */
  async set(app: string, env: string, name: string, value: string | Uint8Array, actor: string): Promise<SecretSetResult> {
    checkSecretName(name);
    const text = checkSecretValue(value, name);
    await this.checkService(app, env, name);
    const current = await this.d.store.secrets.currentSecret(app, env, name);
    if (current && this.open(current) === text) return { ...metaOf(current), created: false, changed: false };
    const { meta, previous } = await this.addVersion(app, env, name, text, actor);
    await this.d.events?.emit({ type: 'secret.set', app, env, data: { name, version: meta.version, previousVersion: previous, actor } });
    return { ...meta, created: previous === null, changed: true };
  }

  /** A new version of an existing secret; the value must differ from the current one. */
  async rotate(app: string, env: string, name: string, newValue: string | Uint8Array, actor: string): Promise<SecretRotateResult> {
    checkSecretName(name);
    const text = checkSecretValue(newValue, name);
    await this.checkService(app, env, name);
    const current = await this.d.store.secrets.currentSecret(app, env, name);
    if (!current) throw await this.notFound(app, env, name, `set it first with \`rollgate secret set ${app} ${name} --env ${env}\``);
    if (this.open(current) === text) {
      throw new RollgateError('conflict', `the new value of ${name} is the same as its current one (version ${current.version}); a rotation needs a new value`);
    }
    const { meta, previous } = await this.addVersion(app, env, name, text, actor);
    const previousVersion = previous ?? current.version;
    await this.d.events?.emit({ type: 'secret.rotated', app, env, data: { name, version: meta.version, previousVersion, actor } });
    return { ...meta, previousVersion };
  }

  /** Current versions (names, versions, times, who), never values. */
  async list(app: string, env?: string): Promise<SecretVersionMeta[]> {
    if (env !== undefined) await loadServiceConfig(this.d.store, app, env);
    else if (!(await this.d.store.getApp(app))) {
      const known = (await this.d.store.listApps()).map((a) => a.name);
      throw new RollgateError('not_found', `unknown app "${app}"; known apps: ${known.join(', ') || 'none'}`);
    }
    return this.d.store.secrets.listSecrets(app, env);
  }

  async rm(app: string, env: string, name: string, actor: string): Promise<SecretRemoveResult> {
    checkSecretName(name);
    const versions = await this.d.store.secrets.deleteSecret(app, env, name);
    if (versions.length === 0) throw await this.notFound(app, env, name, 'nothing was removed');
    await this.d.events?.emit({ type: 'secret.removed', app, env, data: { name, versions, actor } });
    return { app, env, name, versions };
  }

  /** Every current secret of the app in the environment, decrypted: what its instances get. */
  async resolve(app: string, env: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const s of await this.d.store.secrets.currentSecrets(app, env)) out[s.name] = this.open(s);
    return out;
  }

  /** Every value this process has handled (set, rotated, resolved), for masking output. */
  knownValues(): { name: string; value: string }[] {
    return [...this.known].map(([value, name]) => ({ name, value }));
  }

  /** `text` with every known value, in every form, replaced by `[secret:NAME]` (see SecretMasker.mask). */
  mask(text: string, opts?: { cut?: boolean }): string {
    return this.masker.mask(text, opts);
  }

  /**
   * Decrypts every current secret once, so output is masked from the start (stage logs can show
   * what an instance printed before any instance of this process was started). Returns how many.
   */
  async learnAll(): Promise<number> {
    let n = 0;
    for (const app of await this.d.store.listApps()) {
      const envs = new Set((await this.d.store.secrets.listSecrets(app.name)).map((s) => s.env));
      for (const env of envs) n += Object.keys(await this.resolve(app.name, env)).length;
    }
    return n;
  }

  private remember(name: string, value: string): void {
    if (this.known.get(value) === name) return;
    this.known.set(value, name);
    // Every encoded form too (JSON-escaped for a structured log line, base64, hex, URL).
    this.masker.add(name, value);
  }

  /** The app and environment exist, and the name is not the variable that carries the instance's port. */
  private async checkService(app: string, env: string, name: string): Promise<void> {
    const cfg = await loadServiceConfig(this.d.store, app, env);
    if (cfg.appSpec.portEnv === name) {
      throw new RollgateError('invalid_input', `${name} carries the port of every ${app} instance (portEnv in rollgate.yaml), so the platform sets it; pick another name`);
    }
  }

  private open(s: StoredSecret): string {
    const value = this.cipher.open(s, s).toString('utf8');
    this.remember(s.name, value);
    return value;
  }

  private async addVersion(app: string, env: string, name: string, value: string, actor: string): Promise<{ meta: SecretVersionMeta; previous: number | null }> {
    this.remember(name, value);
    for (let attempt = 1; ; attempt++) {
      const current = await this.d.store.secrets.currentSecret(app, env, name);
      const version = (await this.d.store.secrets.lastSecretVersion(app, env, name)) + 1;
      const sealed = this.cipher.seal(value, { app, env, name, version });
      try {
        const meta = await this.d.store.secrets.addSecretVersion({ app, env, name, version, ...sealed, createdBy: actor });
        return { meta, previous: current?.version ?? null };
      } catch (e) {
        if (!(e instanceof RollgateError) || e.code !== 'conflict' || attempt >= VERSION_ATTEMPTS) throw e;
      }
    }
  }

  private async notFound(app: string, env: string, name: string, what: string): Promise<RollgateError> {
    const names = (await this.d.store.secrets.listSecrets(app, env)).map((s) => s.name);
    return new RollgateError('not_found', `${app} has no secret ${name} in ${env}; ${what}. Its secrets there: ${names.join(', ') || 'none'}`);
  }
}
