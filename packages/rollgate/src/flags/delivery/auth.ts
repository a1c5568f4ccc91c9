/**
 * SDK-key authentication of the delivery endpoints (never user tokens): the key as Unleash
 * SDKs send it (`Authorization: <key>`), as a bearer token, or in OFREP's `X-API-Key`. A
 * missing, unknown or revoked key is a 401 saying which; a client key where only server keys
 * may read the rules is a 403. Every refusal is logged (key id or prefix, never the key).
 */
import type { Context } from 'hono';
import { RollgateError } from '../../core/errors.js';
import type { Logger } from '../../engine/logger.js';
import type { FlagKeyKind } from '../../store/flags-types.js';
import type { ResolvedFlagKey } from '../flag-keys.js';
import { clientAddress } from '../../api/authz.js';

export interface KeyResolver {
  resolve(presented: string): Promise<ResolvedFlagKey>;
}

/** The presented key, or null when none was sent. */
export function presentedKey(c: Context): string | null {
  const auth = c.req.header('authorization')?.trim();
  if (auth) return /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, '').trim() : auth;
  return c.req.header('x-api-key')?.trim() || null;
}

const NO_KEY = 'no SDK key: send a Rollgate SDK key as `Authorization: <key>` (or `Authorization: Bearer <key>`, or X-API-Key for OFREP); create one with `rollgate flags key create --app APP --env ENV --kind server|client`';
const CLIENT_KEY = 'client keys only get evaluated results (this route gives every rule of the environment): use /api/frontend or OFREP with this key, or a server key here';

export class DeliveryAuth {
  constructor(
    private readonly keys: KeyResolver,
    private readonly log: Logger,
    private readonly trustProxy = false,
  ) {}

  /** The key's (app, env), when it is of one of `kinds`. */
  async require(c: Context, kinds: readonly FlagKeyKind[]): Promise<ResolvedFlagKey> {
    const presented = presentedKey(c);
    const refuse = (e: RollgateError, key?: string): never => this.refuse(c, e, key);
    if (!presented) return refuse(new RollgateError('unauthorized', NO_KEY));
    let k: ResolvedFlagKey;
    try {
      k = await this.keys.resolve(presented);
    } catch (e) {
      // Only an SDK key's listed prefix goes to the log, never anything of another credential.
      if (e instanceof RollgateError && e.code === 'unauthorized') return refuse(e, /^rg[sc]_/.test(presented) ? presented.slice(0, 12) : undefined);
      throw e;
    }
    if (!kinds.includes(k.kind)) return refuse(new RollgateError('forbidden', CLIENT_KEY), k.id);
    return k;
  }

  /** Logs a refused SDK request (`key`: its id or listed prefix) and throws `e`. */
  refuse(c: Context, e: RollgateError, key?: string): never {
    this.log.warn('SDK key refused', { route: `${c.req.method} ${c.req.path.slice(0, 200)}`, status: e.status, reason: e.message.slice(0, 200), ...(key ? { key } : {}), address: clientAddress(c, this.trustProxy) });
    throw e;
  }
}
