/**
 * SDK keys of an (app, environment): created (the key shown once), listed (prefix only),
 * revoked; creation and revocation on the audit trail in their transaction. `resolve` is what the
 * delivery endpoints call with a presented key.
 */
import { RollgateError, errorMessage } from '../core/errors.js';
import type { FlagKeyKind, FlagKeyRecord } from '../store/flags-types.js';
import { change, type ChangeDeps, type Who } from './changes.js';
import type { Flags } from './flags.js';
import type { CreateKeyBody } from './inputs.js';
import { FLAG_KEY_RE, SHOWN_PREFIX_CHARS, flagKeyHash, generateFlagKey, newFlagKeyId } from './keys.js';

export interface CreatedFlagKey extends FlagKeyRecord {
  /** The key itself: shown this once, never stored. */
  key: string;
}

/** Whom a presented key lets in. */
export interface ResolvedFlagKey {
  id: string;
  app: string;
  env: string;
  kind: FlagKeyKind;
}

/** The event kind of a revoked SDK key (data: { id, actor }). */
export const FLAG_KEY_REVOKED = 'flag-key.revoked';

const keyTarget = (app: string, env: string, id: string) => `flag-key/${app}/${env}/${id}`;

export class FlagKeys {
  constructor(
    private readonly flags: Flags,
    private readonly c: ChangeDeps,
  ) {}

  async create(app: string, env: string, body: CreateKeyBody, who: Who): Promise<CreatedFlagKey> {
    await this.flags.mustApp(app);
    await this.flags.mustEnv(env);
    const key = generateFlagKey(body.kind);
    const id = newFlagKeyId();
    return change(this.c, who, app, 'flag-key.create', keyTarget(app, env, id), async (tx) => {
      const rec = await tx.insertKey({ id, app, env, kind: body.kind, name: body.name ?? `${body.kind} key`, prefix: key.slice(0, SHOWN_PREFIX_CHARS), hash: flagKeyHash(key), createdBy: who.actor });
      return { result: { ...rec, key }, before: null, after: rec, moved: [] };
    });
  }

  async list(app: string, env?: string): Promise<FlagKeyRecord[]> {
    await this.flags.mustApp(app);
    return this.c.flags.listKeys(app, env);
  }

  /**
   * Idempotent: revoking a revoked key answers it as it is (and is on the trail too). Announced
   * as `flag-key.revoked`, so whatever serves that key (a delivery stream) can let it go at once.
   */
  async revoke(app: string, env: string, id: string, who: Who): Promise<FlagKeyRecord> {
    const k = await change(this.c, who, app, 'flag-key.revoke', keyTarget(app, env, id), async (tx) => {
      const before = await tx.getKey(id);
      if (!before || before.app !== app || before.env !== env) throw new RollgateError('not_found', `no SDK key ${id.slice(0, 40)} for ${app} in ${env}; list them with \`rollgate flags key list --app ${app} --env ${env}\``);
      const after = before.revokedAt ? before : (await tx.revokeKey(id, who.actor))!;
      return { result: after, before, after, moved: [] };
    });
    await this.c.events?.emit({ type: FLAG_KEY_REVOKED, app, env, data: { id, actor: who.actor } }).catch((e: unknown) => this.c.log?.error('key revocation not announced', { app, env, id, error: errorMessage(e) }));
    return k;
  }

  /** The (app, env, kind) a presented key is for, or `unauthorized` saying why not. */
  async resolve(presented: string): Promise<ResolvedFlagKey> {
    if (!FLAG_KEY_RE.test(presented)) throw new RollgateError('unauthorized', 'that is not a Rollgate SDK key (rgs_… or rgc_…, 47 characters); create one with `rollgate flags key create`');
    const k = await this.c.flags.keyByHash(flagKeyHash(presented));
    if (!k) throw new RollgateError('unauthorized', 'unknown SDK key; create one with `rollgate flags key create --app APP --env ENV --kind server|client`');
    if (k.revokedAt) throw new RollgateError('unauthorized', `SDK key ${k.id} (${k.prefix}…) was revoked at ${k.revokedAt}; create a new one with \`rollgate flags key create\``);
    return { id: k.id, app: k.app, env: k.env, kind: k.kind };
  }
}
