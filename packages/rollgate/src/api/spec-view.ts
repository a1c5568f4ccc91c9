/**
 * GET /v1/spec: the spec as the server holds it (apps, environments, pipelines as last applied),
 * so a client can tell whether its rollgate.yaml would change anything before asking for the
 * right to change it (`rollgate deploy` needs only `deploy`). Readable with `read`, as
 * GET /v1/environments and GET /v1/pipelines already are. Notification channels are given as a
 * digest only: a channel may carry a URL with a token in it.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import type { PipelineSpec } from '../core/pipeline-spec.js';
import type { Notifications } from '../engine/notifications.js';
import type { PipelineCatalog } from '../engine/pipeline/catalog.js';
import type { Store } from '../store/types.js';

export interface AppliedSpecView {
  apps: Record<string, unknown>;
  environments: Record<string, unknown>;
  pipelines: Record<string, PipelineSpec>;
  /** null when no channels were ever applied. */
  notifications: { channels: number; sha256: string } | null;
}

/** The digest both sides compute over a list of channels (canonical JSON, SHA-256, hex). */
export function channelsDigest(channels: unknown): string {
  return createHash('sha256').update(canonicalJson(channels)).digest('hex');
}

export async function appliedSpecView(d: { store: Store; catalog: PipelineCatalog; notifications: Notifications }): Promise<AppliedSpecView> {
  // Pipelines first: an apply writes environments and apps before pipelines, so a view that sees
  // an apply's pipelines sees its apps too (read all at once, the apps could be read before the
  // apply and the pipelines after it).
  const pipelines = await d.catalog.all();
  const [apps, envs, channels] = await Promise.all([d.store.listApps(), d.store.listEnvironments(), d.notifications.applied()]);
  return {
    apps: Object.fromEntries(apps.map((a) => [a.name, a.spec])),
    environments: Object.fromEntries(envs.map((e) => [e.name, e.spec])),
    pipelines,
    notifications: channels === null ? null : { channels: channels.length, sha256: channelsDigest(channels) },
  };
}
