/**
 * Incidents: opened by a rolled-back or failed production deployment, by an Alertmanager alert,
 * or by hand; resolved by a later successful deployment of the service, by the alert resolving,
 * or by hand. Every change is written to the store, then emitted on the event bus
 * (`incident.opened`, `incident.resolved`). Every entry point is idempotent: the store keeps one
 * incident per deployment and one open incident per alert fingerprint, so retried hooks and
 * redelivered webhooks change nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { DeploymentRecord } from '../core/domain.js';
import { RollgateError } from '../core/errors.js';
import {
  DEPLOYMENT_INCIDENT_SOURCES,
  SEVERITY_RE,
  type DeploymentIncidentSource,
  type IncidentFilter,
  type IncidentRecord,
} from '../core/incidents.js';
import { EnvironmentSpec, isProduction, NAME_RE } from '../core/spec.js';
import type { Store } from '../store/types.js';
import type { EventBus } from './events.js';

export const INCIDENT_ID_RE = /^inc-[0-9a-f]{12}$/;
const TITLE_MAX = 300;
const DEPLOYMENT_SEVERITY = 'major';
const ALERT_SEVERITY = 'warning';

// ---- Alertmanager webhook payload (webhook_config, version "4"). Unknown fields are ignored, so
// Alertmanager-compatible senders that add fields (Grafana) are accepted too.

const Timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an RFC 3339 time' });
const LabelSet = z.record(z.string(), z.string());

export const AlertmanagerAlert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: LabelSet,
  annotations: LabelSet.default({}),
  startsAt: Timestamp,
  endsAt: Timestamp.optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).max(200).optional(),
});
export type AlertmanagerAlert = z.infer<typeof AlertmanagerAlert>;

export const AlertmanagerPayload = z.object({
  version: z.string().optional(),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().min(0).optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  receiver: z.string().optional(),
  groupLabels: LabelSet.optional(),
  commonLabels: LabelSet.optional(),
  commonAnnotations: LabelSet.optional(),
  externalURL: z.string().optional(),
  alerts: z.array(AlertmanagerAlert).max(10_000),
});
export type AlertmanagerPayload = z.infer<typeof AlertmanagerPayload>;

export interface AlertmanagerOutcome {
  /** Incidents opened by firing alerts of this notification. */
  opened: IncidentRecord[];
  /** Incidents resolved by resolved alerts of this notification. */
  resolved: IncidentRecord[];
  /** Alerts that changed nothing: already open, already resolved, or never seen. */
  unchanged: number;
}

export interface ManualIncident {
  app: string;
  env: string;
  title: string;
  severity?: string | undefined;
}

export type ResolveBy = { deploymentId: string } | { actor: string; resolution: string };

export interface IncidentsOptions {
  now?: () => number;
}

export class Incidents {
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    opts: IncidentsOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * The executor's hook once a deployment has ended: a deploy that was rolled back or failed
   * opens an incident; a deploy that succeeded resolves the service's open deployment
   * incidents; a successful `rollgate rollback` opens one for the deployment it undid.
   */
  async onDeploymentEnded(dep: DeploymentRecord): Promise<void> {
    if (dep.kind === 'deploy') {
      if (dep.status === 'rolled_back') await this.openForDeployment(dep, 'rollback', dep.message);
      else if (dep.status === 'failed') await this.openForDeployment(dep, 'deployment_failed', dep.message);
      else if (dep.status === 'succeeded') await this.resolveForService(dep.app, dep.env, { deploymentId: dep.id });
      return;
    }
    if (dep.status !== 'succeeded' || dep.previousReleaseId === null) return;
    // A rollback undid the deployment that had put the previous release in place.
    const recent = await this.store.listDeployments({ app: dep.app, env: dep.env, limit: 50 });
    const undone = recent.find((d) => d.id !== dep.id && d.kind === 'deploy' && d.status === 'succeeded' && d.releaseId === dep.previousReleaseId);
    if (undone) await this.openForDeployment(undone, 'rollback', `rolled back to ${dep.version} by ${dep.requestedBy}`);
  }

  /**
   * Opens the incident of a deployment that was rolled back or failed, in production
   * environments only (others return null). Idempotent: the deployment's incident if it exists.
   */
  async openForDeployment(dep: DeploymentRecord, source: DeploymentIncidentSource, reason: string): Promise<IncidentRecord | null> {
    const envRec = await this.store.getEnvironment(dep.env);
    if (!envRec) return null;
    const envSpec = EnvironmentSpec.safeParse(envRec.spec);
    if (!envSpec.success || !isProduction(dep.env, envSpec.data)) return null;
    const what = source === 'rollback' ? 'rolled back' : 'failed';
    const labels: Record<string, string> = { version: dep.version, deploymentKind: dep.kind };
    if (dep.previousVersion) labels.previousVersion = dep.previousVersion;
    const { incident, created } = await this.store.createIncident({
      id: newIncidentId(),
      app: dep.app,
      env: dep.env,
      production: true,
      deploymentId: dep.id,
      source,
      title: clip(`${dep.app} ${dep.version} ${what} in ${dep.env}${reason ? `: ${reason}` : ''}`),
      severity: DEPLOYMENT_SEVERITY,
      openedAt: this.iso(),
      fingerprint: null,
      labels,
    });
    if (created) await this.emitOpened(incident);
    return incident;
  }

  /**
   * Resolves the open deployment incidents (rollback, failed deployment) of a service: by a later
   * successful deployment, or by a person. Alert and manual incidents are left alone (an alert
   * resolves itself; a person resolves what a person opened). Returns those it resolved.
   */
  async resolveForService(app: string, env: string, by: ResolveBy): Promise<IncidentRecord[]> {
    const open = await this.store.listIncidents({ app, env, status: 'open', sources: DEPLOYMENT_INCIDENT_SOURCES, limit: 1000 });
    const out: IncidentRecord[] = [];
    let resolution: { resolvedBy: string; resolvedByDeploymentId: string | null; resolution: string };
    if ('deploymentId' in by) {
      const fix = await this.store.getDeployment(by.deploymentId);
      resolution = {
        resolvedBy: `deployment:${by.deploymentId}`,
        resolvedByDeploymentId: by.deploymentId,
        resolution: `fixed by deployment ${by.deploymentId}${fix ? ` of ${fix.version}` : ''}`,
      };
    } else {
      resolution = { resolvedBy: by.actor, resolvedByDeploymentId: null, resolution: by.resolution };
    }
    for (const i of open) {
      if ('deploymentId' in by && i.deploymentId === by.deploymentId) continue;
      const r = await this.store.resolveIncident(i.id, { ...resolution, resolvedAt: this.iso() });
      if (r?.changed) {
        await this.emitResolved(r.incident);
        out.push(r.incident);
      }
    }
    return out;
  }

  /** Resolves one incident by hand. Throws not_found, or conflict when it is already resolved. */
  async resolve(id: string, actor: string, resolution?: string): Promise<IncidentRecord> {
    const existing = await this.get(id);
    if (existing.status === 'resolved') {
      throw new RollgateError('conflict', `incident ${id} was already resolved at ${existing.resolvedAt ?? '?'} by ${existing.resolvedBy ?? '?'}`);
    }
    const r = await this.store.resolveIncident(id, { resolvedAt: this.iso(), resolvedBy: actor, resolvedByDeploymentId: null, resolution: resolution?.trim() || `resolved by ${actor}` });
    if (!r) throw new RollgateError('not_found', `no incident ${id}; list them with \`rollgate incidents\``);
    if (!r.changed) throw new RollgateError('conflict', `incident ${id} was already resolved at ${r.incident.resolvedAt ?? '?'} by ${r.incident.resolvedBy ?? '?'}`);
    await this.emitResolved(r.incident);
    return r.incident;
  }

  /**
   * A guarded flag rollout killed by its guard: an automated alert on the service (source
   * `alert`, labels naming the flag and rollout; fingerprint per rollout, so several servers
   * killing the same rollout open one incident). Opened in every environment, marked production
   * or not like the environment.
   */
  async openForFlagGuard(k: { app: string; env: string; flag: string; rollout: string; reason: string }): Promise<IncidentRecord> {
    const production = await this.knownService(k.app, k.env);
    const { incident, created } = await this.store.createIncident({
      id: newIncidentId(),
      app: k.app,
      env: k.env,
      production,
      deploymentId: null,
      source: 'alert',
      title: clip(`flag ${k.flag} of ${k.app} killed by its guard in ${k.env}: ${k.reason}`),
      severity: DEPLOYMENT_SEVERITY,
      openedAt: this.iso(),
      fingerprint: `flag-guard:${k.rollout}`,
      labels: { source: 'flag-guard', flag: k.flag, rollout: k.rollout },
    });
    if (created) await this.emitOpened(incident);
    return incident;
  }

  /** Opens an incident by hand (`POST /v1/incidents`). The app and environment must be known. */
  async openManual(req: ManualIncident, actor: string): Promise<IncidentRecord> {
    const production = await this.knownService(req.app, req.env);
    const severity = (req.severity ?? DEPLOYMENT_SEVERITY).toLowerCase();
    if (!SEVERITY_RE.test(severity)) throw new RollgateError('invalid_input', `severity "${req.severity}" is not valid; use a short lower-case word such as critical, major, minor or warning`);
    const { incident } = await this.store.createIncident({
      id: newIncidentId(),
      app: req.app,
      env: req.env,
      production,
      deploymentId: null,
      source: 'manual',
      title: clip(req.title.trim()),
      severity,
      openedAt: this.iso(),
      fingerprint: null,
      labels: { openedBy: actor },
    });
    await this.emitOpened(incident);
    return incident;
  }

  async get(id: string): Promise<IncidentRecord> {
    if (!INCIDENT_ID_RE.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 60)}" is not an incident id (they look like inc-0123456789ab)`);
    const i = await this.store.getIncident(id);
    if (!i) throw new RollgateError('not_found', `no incident ${id}; list them with \`rollgate incidents\``);
    return i;
  }

  list(filter: IncidentFilter): Promise<IncidentRecord[]> {
    return this.store.listIncidents(filter);
  }

  /**
   * Applies one Alertmanager notification: each firing alert opens an incident (app and env from
   * the labels `app`/`service` and `env`/`environment`), each resolved alert resolves the incident
   * of its fingerprint. The whole payload is checked first: a payload with a firing alert that
   * names no known app and environment is refused (invalid_input) and changes nothing.
   */
  async handleAlertmanager(payload: unknown): Promise<AlertmanagerOutcome> {
    const parsed = AlertmanagerPayload.safeParse(payload);
    if (!parsed.success) {
      const detail = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : 'payload'}: ${i.message}`).join('; ');
      throw new RollgateError('invalid_input', `not an Alertmanager webhook payload (webhook_config, version 4): ${detail}`);
    }
    const alerts = parsed.data.alerts;
    const plans: { alert: AlertmanagerAlert; fingerprint: string; target: { app: string; env: string; production: boolean } | null }[] = [];
    const problems: string[] = [];
    const known = new Map<string, Promise<boolean | string>>();
    for (const alert of alerts) {
      const fingerprint = alert.fingerprint ?? labelFingerprint(alert.labels);
      if (alert.status === 'resolved') {
        plans.push({ alert, fingerprint, target: null });
        continue;
      }
      const name = `alert "${alert.labels.alertname ?? '(no alertname)'}" (fingerprint ${fingerprint})`;
      const app = alert.labels.app ?? alert.labels.service;
      const env = alert.labels.env ?? alert.labels.environment;
      if (!app || !env) {
        problems.push(`${name} has no ${!app ? 'app (or service)' : 'env (or environment)'} label; add labels app and env naming a Rollgate app and environment to the alert rule`);
        continue;
      }
      if (!NAME_RE.test(app) || !NAME_RE.test(env)) {
        problems.push(`${name}: app "${app}" / env "${env}" are not Rollgate names (lower-case letters, digits and dashes)`);
        continue;
      }
      const k = `${app}/${env}`;
      if (!known.has(k)) known.set(k, this.knownService(app, env).catch((e: unknown) => (e instanceof RollgateError ? e.message : String(e))));
      const production = await known.get(k)!;
      if (typeof production === 'string') {
        problems.push(`${name}: ${production}`);
        continue;
      }
      plans.push({ alert, fingerprint, target: { app, env, production } });
    }
    if (problems.length > 0) {
      throw new RollgateError('invalid_input', `Alertmanager payload refused, nothing was changed: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`);
    }

    const out: AlertmanagerOutcome = { opened: [], resolved: [], unchanged: 0 };
    for (const p of plans) {
      const changed = p.target ? await this.alertFiring(p.alert, p.fingerprint, p.target, out) : await this.alertResolved(p.alert, p.fingerprint, out);
      if (!changed) out.unchanged++;
    }
    return out;
  }

  private async alertFiring(alert: AlertmanagerAlert, fingerprint: string, t: { app: string; env: string; production: boolean }, out: AlertmanagerOutcome): Promise<boolean> {
    const openedAt = this.clampToNow(alert.startsAt);
    // A late redelivery of a notification whose alert has resolved since: same fingerprint and
    // start time as a resolved incident. It must not open a second one.
    const earlier = await this.store.listIncidents({ fingerprint, sources: ['alert'], limit: 20 });
    if (earlier.some((i) => i.status === 'resolved' && i.openedAt === openedAt)) return false;
    const severity = (alert.labels.severity ?? '').toLowerCase();
    const { incident, created } = await this.store.createIncident({
      id: newIncidentId(),
      app: t.app,
      env: t.env,
      production: t.production,
      deploymentId: null,
      source: 'alert',
      title: clip(alert.annotations.summary ?? alert.labels.alertname ?? `alert ${fingerprint}`),
      severity: SEVERITY_RE.test(severity) ? severity : ALERT_SEVERITY,
      openedAt,
      fingerprint,
      labels: alert.labels,
    });
    if (!created) return false;
    await this.emitOpened(incident);
    out.opened.push(incident);
    return true;
  }

  private async alertResolved(alert: AlertmanagerAlert, fingerprint: string, out: AlertmanagerOutcome): Promise<boolean> {
    const [open] = await this.store.listIncidents({ fingerprint, sources: ['alert'], status: 'open', limit: 1 });
    if (!open) return false;
    // endsAt is when the alert stopped firing; never before the incident opened nor in the future.
    let resolvedAt = alert.endsAt ? this.clampToNow(alert.endsAt) : this.iso();
    if (resolvedAt < open.openedAt) resolvedAt = open.openedAt;
    const r = await this.store.resolveIncident(open.id, {
      resolvedAt,
      resolvedBy: 'alertmanager',
      resolvedByDeploymentId: null,
      resolution: `alert ${alert.labels.alertname ?? fingerprint} resolved`,
    });
    if (!r?.changed) return false;
    await this.emitResolved(r.incident);
    out.resolved.push(r.incident);
    return true;
  }

  /** Whether app × env is production; not_found naming what exists when either is unknown. */
  private async knownService(app: string, env: string): Promise<boolean> {
    const [a, e] = await Promise.all([this.store.getApp(app), this.store.getEnvironment(env)]);
    if (!a) {
      const names = (await this.store.listApps()).map((x) => x.name);
      throw new RollgateError('not_found', `unknown app "${app}"; known apps: ${names.join(', ') || 'none'}`);
    }
    if (!e) {
      const names = (await this.store.listEnvironments()).map((x) => x.name);
      throw new RollgateError('not_found', `unknown environment "${env}"; known environments: ${names.join(', ') || 'none'}`);
    }
    const spec = EnvironmentSpec.safeParse(e.spec);
    return spec.success ? isProduction(env, spec.data) : env === 'production';
  }

  private async emitOpened(i: IncidentRecord): Promise<void> {
    await this.events.emit({
      type: 'incident.opened',
      app: i.app,
      env: i.env,
      deploymentId: i.deploymentId,
      data: { id: i.id, source: i.source, title: i.title, severity: i.severity, production: i.production, openedAt: i.openedAt, fingerprint: i.fingerprint },
    });
  }

  private async emitResolved(i: IncidentRecord): Promise<void> {
    const durationMs = i.resolvedAt ? Math.max(0, Date.parse(i.resolvedAt) - Date.parse(i.openedAt)) : null;
    await this.events.emit({
      type: 'incident.resolved',
      app: i.app,
      env: i.env,
      deploymentId: i.deploymentId,
      data: { id: i.id, source: i.source, title: i.title, resolvedBy: i.resolvedBy, resolvedByDeploymentId: i.resolvedByDeploymentId, resolution: i.resolution, durationMs },
    });
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  /** An RFC 3339 time as the store's ISO UTC form, never later than now (a sender's clock may run ahead). */
  private clampToNow(t: string): string {
    const ms = Math.min(Date.parse(t), this.now());
    return new Date(ms).toISOString();
  }
}

export function newIncidentId(): string {
  return `inc-${randomBytes(6).toString('hex')}`;
}

/** For senders that leave out `fingerprint` (Alertmanager before 0.19): a hash of the sorted labels. */
export function labelFingerprint(labels: Record<string, string>): string {
  const canonical = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

function clip(s: string): string {
  return s.length > TITLE_MAX ? `${s.slice(0, TITLE_MAX - 1)}…` : s;
}

