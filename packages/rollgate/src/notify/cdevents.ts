/**
 * CDEvents v0.5.1 (https://cdevents.dev) over CloudEvents 1.0 binary HTTP mode: the CloudEvents
 * attributes travel as `ce-*` headers and the body is the CDEvent itself
 * (`{ context, subject, customData? }`), so CDEvents-aware receivers and plain CloudEvents
 * brokers (Knative, Keptn, …) both understand it. Types and shapes follow the spec's JSON schemas
 * (checked in the tests against /work/shared/conformance/cdevents-0.5.1).
 */
import type { Dispatcher } from 'undici';
import { postJson, secretPartsOfUrl } from './http.js';
import type { DeliveryResult, Notification, Notifier } from './types.js';

export const CDEVENTS_SPEC_VERSION = '0.5.1';

/** CDEvent type strings as the v0.5.1 schemas pin them, with the schema each one follows. */
export const CDEVENT_TYPES = {
  pipelineRunQueued: { type: 'dev.cdevents.pipelinerun.queued.0.3.0', schema: 'pipelinerun-queued-event' },
  pipelineRunStarted: { type: 'dev.cdevents.pipelinerun.started.0.3.0', schema: 'pipelinerun-started-event' },
  pipelineRunFinished: { type: 'dev.cdevents.pipelinerun.finished.0.3.0', schema: 'pipelinerun-finished-event' },
  serviceDeployed: { type: 'dev.cdevents.service.deployed.0.3.0', schema: 'service-deployed-event' },
  serviceRolledBack: { type: 'dev.cdevents.service.rolledback.0.3.0', schema: 'service-rolledback-event' },
  incidentDetected: { type: 'dev.cdevents.incident.detected.0.3.0', schema: 'incident-detected-event' },
  incidentResolved: { type: 'dev.cdevents.incident.resolved.0.3.0', schema: 'incident-resolved-event' },
} as const;
export type CDEventKind = keyof typeof CDEVENT_TYPES;

export interface CDEventContext {
  specversion: string;
  id: string;
  source: string;
  type: string;
  timestamp: string;
  schemaUri?: string;
  chainId?: string;
}

export interface CDEvent {
  context: CDEventContext;
  subject: { id: string; source?: string; content: Record<string, unknown> };
  customData?: Record<string, unknown>;
  customDataContentType?: string;
}

export interface CDEventOptions {
  /** `context.source` / `ce-source`: a URI reference naming this Rollgate (its URL, or `/rollgate`). */
  source?: string | undefined;
}

/** Which CDEvent a notification becomes; null when CDEvents has no event for it. */
export function cdeventKindFor(n: Pick<Notification, 'type' | 'data'>): CDEventKind | null {
  switch (n.type) {
    case 'deployment.succeeded':
      // A `rollgate rollback` deployment that succeeded is a rollback of the service.
      return n.data.kind === 'rollback' ? 'serviceRolledBack' : 'serviceDeployed';
    case 'deployment.rolled_back':
      return 'serviceRolledBack';
    case 'incident.opened':
      return 'incidentDetected';
    case 'incident.resolved':
      return 'incidentResolved';
    case 'pipeline.queued':
      return 'pipelineRunQueued';
    case 'pipeline.started':
      return 'pipelineRunStarted';
    case 'pipeline.finished':
      return 'pipelineRunFinished';
    default:
      return null;
  }
}

/** Package URL for a release: `pkg:generic/<app>@<version>` (CDEvents identifies artifacts by purl). */
export function artifactPurl(app: string, version: string): string {
  return `pkg:generic/${encodeURIComponent(app)}@${encodeURIComponent(version)}`;
}

const PIPELINE_OUTCOME: Record<string, 'success' | 'failure' | 'cancel' | 'error'> = {
  succeeded: 'success',
  failed: 'failure',
  cancelled: 'cancel',
  aborted: 'cancel',
  error: 'error',
};

/**
 * Maps a notification to its CDEvent (null when there is none). Pipeline notifications
 * (`pipeline.queued|started|finished`, data `{ runId, pipeline, status?, error? }`) map to
 * pipelinerun events; deployments to service events; incidents to incident events.
 */
export function toCDEvent(n: Notification, opts: CDEventOptions = {}): CDEvent | null {
  const kind = cdeventKindFor(n);
  if (!kind) return null;
  const { type, schema } = CDEVENT_TYPES[kind];
  const source = opts.source ?? '/rollgate';
  const context: CDEventContext = {
    specversion: CDEVENTS_SPEC_VERSION,
    id: n.id,
    source,
    type,
    timestamp: n.at,
    schemaUri: `https://cdevents.dev/${CDEVENTS_SPEC_VERSION}/schema/${schema}`,
    ...(n.deploymentId ? { chainId: n.deploymentId } : {}),
  };
  const app = n.app ?? 'unknown';
  const env = { id: n.env ?? 'unknown' };
  const customData: Record<string, unknown> = { rollgate: { eventType: n.sourceType, summary: n.summary, ...(n.link ? { link: n.link } : {}), ...(n.deploymentId ? { deploymentId: n.deploymentId } : {}) } };
  switch (kind) {
    case 'serviceDeployed':
      return { context, subject: { id: `service/${app}`, source, content: { environment: env, artifactId: artifactPurl(app, n.version ?? 'unknown') } }, customData };
    case 'serviceRolledBack': {
      // artifactId is what serves after the rollback: the previous version (or, for a rollback
      // deployment, the version it deployed). When the event does not say, the rolled-back one.
      const serving = n.type === 'deployment.succeeded' ? n.version : (n.previousVersion ?? n.version);
      return {
        context,
        subject: { id: `service/${app}`, source, content: { environment: env, artifactId: artifactPurl(app, serving ?? 'unknown') } },
        customData: { ...customData, rolledBackVersion: n.type === 'deployment.succeeded' ? n.previousVersion : n.version },
      };
    }
    case 'incidentDetected':
    case 'incidentResolved': {
      const content: Record<string, unknown> = { environment: env, service: { id: `service/${app}` } };
      const title = typeof n.data.title === 'string' ? n.data.title : null;
      if (title) content.description = title;
      if (n.version) content.artifactId = artifactPurl(app, n.version);
      return { context, subject: { id: n.subjectId ?? n.id, source, content }, customData };
    }
    case 'pipelineRunQueued':
    case 'pipelineRunStarted':
    case 'pipelineRunFinished': {
      const runId = n.subjectId ?? n.id;
      const content: Record<string, unknown> = {
        pipelineName: typeof n.data.pipeline === 'string' ? n.data.pipeline : app,
        // `uri` must be an absolute URI: the dashboard link when known, else a URN.
        uri: n.link ?? `urn:rollgate:pipeline-run:${encodeURIComponent(runId)}`,
      };
      if (kind === 'pipelineRunFinished') {
        content.outcome = PIPELINE_OUTCOME[n.outcome ?? ''] ?? 'error';
        if (typeof n.data.error === 'string' && n.data.error) content.errors = n.data.error;
      }
      return { context, subject: { id: runId, source, content }, customData };
    }
  }
}

/** CloudEvents 1.0 binary-mode headers for a CDEvent. */
export function cloudEventHeaders(ev: CDEvent): Record<string, string> {
  return {
    'ce-specversion': '1.0',
    'ce-id': ev.context.id,
    'ce-source': ev.context.source,
    'ce-type': ev.context.type,
    'ce-time': ev.context.timestamp,
    'ce-subject': ev.subject.id,
    'content-type': 'application/json',
  };
}

export interface CDEventsNotifierOptions extends CDEventOptions {
  url: string;
  http?: Dispatcher | undefined;
}

export class CDEventsNotifier implements Notifier {
  readonly kind = 'cdevents' as const;
  constructor(private readonly o: CDEventsNotifierOptions) {}

  async deliver(n: Notification, signal: AbortSignal): Promise<DeliveryResult> {
    const ev = toCDEvent(n, this.o);
    // Nothing to say in CDEvents terms: not a failure, and nothing to retry.
    if (!ev) return { ok: true, status: null, retryable: false, error: null, retryAfterMs: null, durationMs: 0 };
    return postJson({ url: this.o.url, headers: cloudEventHeaders(ev), body: JSON.stringify(ev), signal, http: this.o.http, redact: secretPartsOfUrl(this.o.url, false) });
  }
}
