/**
 * Before a deployment: does the local rollgate.yaml change anything on the server? Applied only
 * when it does, and only by who may (`spec.apply`); anyone else deploys with the server's spec,
 * told what differs. Deploying needs `deploy`, never the right to change the spec.
 */
import { canonicalJson } from '../core/canonical-json.js';
import type { ProjectSpec } from '../core/project-spec.js';
import { channelsDigest, type AppliedSpecView } from '../api/spec-view.js';
import type { ApiClient } from './client.js';
import { ApiError } from './exit.js';

/** One thing applying the local spec would change, e.g. `app web`, `environment staging (not on the server)`. */
export type SpecDifference = string;

/** What applying `local` would change on a server holding `server` (apply upserts apps and environments, replaces pipelines, and replaces channels when given). */
export function specDifferences(local: ProjectSpec, server: AppliedSpecView): SpecDifference[] {
  const out: SpecDifference[] = [];
  const compare = (kind: string, mine: Record<string, unknown>, theirs: Record<string, unknown>) => {
    for (const [name, spec] of Object.entries(mine)) {
      if (!Object.hasOwn(theirs, name)) out.push(`${kind} ${name} (not on the server)`);
      else if (canonicalJson(spec) !== canonicalJson(theirs[name])) out.push(`${kind} ${name}`);
    }
  };
  compare('app', local.apps, server.apps);
  compare('environment', local.environments, server.environments);
  compare('pipeline', local.pipelines, server.pipelines);
  for (const name of Object.keys(server.pipelines)) if (!Object.hasOwn(local.pipelines, name)) out.push(`pipeline ${name} (only on the server)`);
  if (local.notifications && channelsDigest(local.notifications.channels) !== server.notifications?.sha256) out.push('notification channels');
  return out;
}

export interface SpecSync {
  /** What the local spec would change (empty: the server has it already). */
  differences: SpecDifference[];
  /** Whether this command applied it. */
  applied: boolean;
  /** Set when it differs and the caller may not apply it: the deployment uses the server's spec. */
  usedServerSpec: boolean;
}

/**
 * Applies `local` when it differs from the server's and the caller may; `warn` is told when it
 * differs and the caller may not. A server without GET /v1/spec (older) gets the spec applied,
 * as before.
 */
export async function syncSpec(client: ApiClient, local: ProjectSpec, warn: (message: string) => void): Promise<SpecSync> {
  let server: AppliedSpecView | null = null;
  try {
    server = await client.appliedSpec();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  const differences = server ? specDifferences(local, server) : ['(the server cannot show its spec)'];
  if (differences.length === 0) return { differences, applied: false, usedServerSpec: false };
  try {
    await client.applySpec(local);
    return { differences, applied: true, usedServerSpec: false };
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 403)) throw e;
    warn(
      `your rollgate.yaml differs from the server's spec (${differences.join(', ')}), and you may not apply it (that needs spec.apply); ` +
        `so this deployment uses the server's spec; for your changes to take effect, ask someone with spec.apply to run \`rollgate apply\``,
    );
    return { differences, applied: false, usedServerSpec: true };
  }
}
