/**
 * Which deployment a command means: a full id, the start of one (as `history` shows 8
 * characters), or the deployment in progress for an app and environment.
 */
import { isActiveStatus } from '../core/domain.js';
import { RollgateError } from '../core/errors.js';
import type { DeploymentView } from '../api/contract.js';
import type { ApiClient } from './client.js';
import { UsageError } from './exit.js';
import { outcome } from './format.js';
import { oneLine } from './terminal-text.js';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID_START = /^[0-9a-f][0-9a-f-]{3,35}$/;
/** How many recent deployments an id start is looked up in. */
const PREFIX_SCAN = 1000;

/** The full id for `ref`; null when `ref` is an id start that matches nothing (it may be an app name then). */
export async function findDeploymentId(client: ApiClient, ref: string): Promise<string | null> {
  if (FULL_ID.test(ref)) return ref;
  if (!ID_START.test(ref)) return null;
  const matches = (await client.deployments({ limit: PREFIX_SCAN })).filter((d) => d.id.startsWith(ref));
  if (matches.length > 1) throw new UsageError(`"${ref}" is the start of ${matches.length} deployment ids (${matches.slice(0, 5).map((d) => d.id).join(', ')}); give more of it`);
  return matches[0]?.id ?? null;
}

export async function resolveDeploymentId(client: ApiClient, ref: string): Promise<string> {
  const id = await findDeploymentId(client, ref);
  if (!id) throw new RollgateError('not_found', `no deployment ${ref}; list them with \`rollgate history\``);
  return id;
}

/**
 * The deployment in progress for the app and environment given (either may be left out): the
 * only one, else a usage error listing them, else not_found naming the last one that ran.
 */
export async function pickActiveDeployment(client: ApiClient, scope: { app?: string | undefined; env?: string | undefined }): Promise<DeploymentView> {
  const services = await client.status(scope);
  const active = services.flatMap((s) => (s.activeDeployment && isActiveStatus(s.activeDeployment.status) ? [s.activeDeployment] : []));
  if (active.length === 1) return active[0]!;
  const where = [scope.app ? `of ${scope.app}` : '', scope.env ? `in ${scope.env}` : ''].filter(Boolean).join(' ');
  if (active.length > 1) {
    const list = active.map((d) => `  ${d.id}  ${oneLine(d.app)} ${oneLine(d.env)} ${oneLine(d.version)} (${outcome(d.status)})`).join('\n');
    throw new UsageError(`${active.length} deployments are in progress${where ? ` ${where}` : ''}; name one (rollgate watch ID), or give the app and --env:\n${list}`);
  }
  const [last] = await client.deployments({ app: scope.app, env: scope.env, limit: 1 });
  throw new RollgateError(
    'not_found',
    `no deployment is in progress${where ? ` ${where}` : ''}${last ? `; the last one, ${last.id} (${last.app} ${last.version} in ${last.env}), ended ${outcome(last.status)}: see it with \`rollgate deployment show ${last.id.slice(0, 8)}\`` : ''}`,
  );
}
