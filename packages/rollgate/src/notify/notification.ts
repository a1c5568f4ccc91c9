/**
 * Platform events → Notifications. The engine emits `deployment.finished` with `data.status`;
 * subscribers think in outcomes (`deployment.succeeded`, `deployment.rolled_back`), so the type is
 * normalised here once and every notifier reads the same fields.
 */
import type { DeploymentRecord, EventRecord } from '../core/domain.js';
import type { Notification } from './types.js';

export interface NormaliseOptions {
  /** The server's public URL (dashboard), for links; none when unset. */
  baseUrl?: string | undefined;
}

const DEPLOYMENT_OUTCOMES = new Set(['succeeded', 'failed', 'aborted', 'rolled_back']);
const PIPELINE_OUTCOMES = new Set(['succeeded', 'failed', 'cancelled', 'error']);
const FLAG_VERBS: Record<string, string> = { create: 'created', update: 'updated', set: 'rules set', enable: 'enabled', disable: 'disabled', rollout: 'rollout percentage changed', archive: 'archived', import: 'imported', kill: 'killed (kill switch: off at once, no change request)', 'rollout.guard-kill': 'killed by its guard (set to its safe value)' };

export function notificationFromEvent(e: EventRecord, opts: NormaliseOptions = {}): Notification {
  const data = isRecord(e.data) ? e.data : {};
  let type = e.type;
  let outcome: string | null = null;
  let subjectId: string | null = null;
  const status = str(data.status);
  if (e.type === 'deployment.finished' && status && DEPLOYMENT_OUTCOMES.has(status)) {
    type = `deployment.${status}`;
    outcome = status;
  } else if (e.type.startsWith('deployment.')) {
    outcome = status ?? e.type.slice('deployment.'.length);
  } else if (e.type.startsWith('incident.')) {
    outcome = e.type.slice('incident.'.length);
    subjectId = str(data.id);
  } else if (e.type.startsWith('pipeline.')) {
    // The pipeline runner emits pipeline.{queued,started,finished} with data { runId, pipeline, status }.
    subjectId = str(data.runId) ?? str(data.id);
    outcome = e.type === 'pipeline.finished' ? (status && PIPELINE_OUTCOMES.has(status) ? status : 'error') : e.type.slice('pipeline.'.length);
  } else {
    outcome = e.type.includes('.') ? e.type.slice(e.type.lastIndexOf('.') + 1) : null;
  }
  const n: Notification = {
    id: `evt_${e.id}`,
    type,
    sourceType: e.type,
    app: e.app,
    env: e.env,
    version: str(data.version),
    previousVersion: str(data.previousVersion),
    outcome,
    summary: '',
    link: null,
    at: e.at,
    deploymentId: e.deploymentId,
    subjectId,
    data,
  };
  n.link = linkFor(n, opts.baseUrl);
  n.summary = summarise(n);
  return n;
}

/**
 * A Notification for a deployment that ended, from its record (the executor's onEnded hook has it):
 * unlike the event, the record knows the previous version, which service.rolledback needs.
 */
export function notificationFromDeployment(d: DeploymentRecord, opts: NormaliseOptions = {}): Notification {
  const n: Notification = {
    id: `dep_${d.id}_${d.status}`,
    type: `deployment.${d.status}`,
    sourceType: 'deployment.finished',
    app: d.app,
    env: d.env,
    version: d.version,
    previousVersion: d.previousVersion,
    outcome: d.status,
    summary: '',
    link: null,
    at: d.finishedAt ?? d.updatedAt,
    deploymentId: d.id,
    subjectId: null,
    data: { status: d.status, version: d.version, previousVersion: d.previousVersion, kind: d.kind, reason: d.message },
  };
  n.link = linkFor(n, opts.baseUrl);
  n.summary = summarise(n);
  return n;
}

function linkFor(n: Notification, baseUrl: string | undefined): string | null {
  if (!baseUrl) return null;
  const base = baseUrl.replace(/\/+$/, '');
  if (n.type.startsWith('incident.') && n.subjectId) return `${base}/incidents/${encodeURIComponent(n.subjectId)}`;
  if (n.type.startsWith('pipeline.') && n.subjectId) return `${base}/pipelines/runs/${encodeURIComponent(n.subjectId)}`;
  if (n.deploymentId) return `${base}/deployments/${encodeURIComponent(n.deploymentId)}`;
  return base;
}

/** One line a person understands without opening anything. */
export function summarise(n: Notification): string {
  const app = n.app ?? 'unknown app';
  const ver = n.version ? ` ${n.version}` : '';
  const env = n.env ? ` in ${n.env}` : '';
  const reason = str(n.data.reason);
  const why = reason ? `: ${reason}` : '';
  switch (n.type) {
    case 'deployment.created':
      return `${app}${ver} deployment to ${n.env ?? '?'} requested`;
    case 'deployment.started':
      return `${app}${ver} deployment to ${n.env ?? '?'} started`;
    case 'deployment.succeeded':
      return `${app}${ver} deployed to ${n.env ?? '?'}`;
    case 'deployment.rolled_back':
      return `${app}${ver} rolled back${env}${n.previousVersion ? ` (${n.previousVersion} serves again)` : ''}${why}`;
    case 'deployment.failed':
      return `${app}${ver} deployment to ${n.env ?? '?'} failed${why}`;
    case 'deployment.aborted':
      return `${app}${ver} deployment to ${n.env ?? '?'} aborted${why}`;
    case 'incident.opened':
      return `Incident opened for ${app}${env}: ${str(n.data.title) ?? 'no title'}`;
    case 'incident.resolved':
      return `Incident resolved for ${app}${env}: ${str(n.data.title) ?? 'no title'}`;
    case 'pipeline.queued':
    case 'pipeline.started':
      return `Pipeline ${str(n.data.pipeline) ?? app} run ${n.subjectId ?? '?'} ${n.outcome ?? n.type.slice(9)}`;
    case 'pipeline.finished': {
      const error = str(n.data.error);
      return `Pipeline ${str(n.data.pipeline) ?? app} run ${n.subjectId ?? '?'} ${n.outcome ?? 'finished'}${ver ? ` (release${ver})` : ''}${error ? `: ${error}` : ''}`;
    }
    case 'pipeline.stage.waiting':
      return `Pipeline ${str(n.data.pipeline) ?? app} run ${n.subjectId ?? '?'} waits at ${str(n.data.stage) ?? '?'}: ${str(n.data.message) ?? ''}`;
    case 'pipeline.approved':
    case 'pipeline.rejected': {
      const note = str(n.data.reason);
      return `Pipeline ${str(n.data.pipeline) ?? app} run ${n.subjectId ?? '?'}: ${str(n.data.stage) ?? '?'} ${n.type.slice(9)} by ${str(n.data.actor) ?? '?'}${note ? `: ${note}` : ''}`;
    }
    case 'flag.changed': {
      // action is the audit action: flag.enable, flag.rollout, flag.import, ...
      const what = (str(n.data.action) ?? 'flag.change').replace(/^flag\./, '');
      const flag = str(n.data.flag) ?? (Array.isArray(n.data.flags) ? `${n.data.flags.length} flag(s)` : 'a flag');
      const rev = typeof n.data.revision === 'number' ? ` (revision ${n.data.revision})` : '';
      return `Flag ${flag} of ${app}: ${FLAG_VERBS[what] ?? what}${env} by ${str(n.data.actor) ?? '?'}${rev}`;
    }
    case 'flag.change-request.proposed':
    case 'flag.change-request.approved':
    case 'flag.change-request.rejected':
    case 'flag.change-request.cancelled': {
      const note = str(n.data.reason);
      const verb = n.type.slice('flag.change-request.'.length);
      const change = str(n.data.action) ?? 'a change';
      return `Change request ${str(n.data.id) ?? '?'} for flag ${str(n.data.flag) ?? '?'} of ${app}${env} (${change}) ${verb} by ${str(n.data.actor) ?? '?'}${note ? `: ${note}` : ''}`;
    }
    case 'flag-key.revoked':
      return `SDK key ${str(n.data.id) ?? '?'} of ${app}${env} revoked by ${str(n.data.actor) ?? '?'}`;
    default:
      return `${n.type} for ${app}${ver}${env}`;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}
