/**
 * The Store over Kysely: one implementation for SQLite and PostgreSQL. Dialect-specific
 * behaviour is limited to the migration's key type and the append locks (events here, stage
 * logs in pipeline-queries.ts).
 */
import { Migrator, sql, type Kysely, type Transaction } from 'kysely';
import {
  ACTIVE_DEPLOYMENT_STATUSES,
  type AppRecord,
  type DeploymentEventRecord,
  type DeploymentRecord,
  type EnvironmentRecord,
  type EventRecord,
  type ReleaseRecord,
  type ServiceStateRecord,
} from '../core/domain.js';
import { RollgateError } from '../core/errors.js';
import type {
  ChaosFilter,
  ChaosPatch,
  ChaosRecord,
  IncidentFilter,
  IncidentRecord,
  IncidentResolution,
  NewIncident,
} from '../core/incidents.js';
import type { ApprovalRecord, PipelineRunRecord, StageLogLine, StageRecord } from '../core/pipeline.js';
import type { DeliveryAttempt, DeliveryFilter } from '../notify/delivery-log.js';
import * as deliveries from './delivery-queries.js';
import { StoreMigrationProvider } from './migrations/index.js';
import * as pipelines from './pipeline-queries.js';
import {
  chaosRecord,
  deploymentEventRecord,
  deploymentRecord,
  deploymentRow,
  eventRecord,
  incidentRecord,
  now,
  releaseRecord,
  serviceStateRecord,
  specRecord,
  toJson,
} from './rows.js';
import type { Database, SqlDialect } from './schema.js';
import { AuditQueries } from './audit-queries.js';
import { AuthQueries } from './auth-queries.js';
import { SecretsQueries } from './secrets-queries.js';
import { FlagsQueries } from './flags-queries.js';
import { FlagMetricsQueries } from './flag-metrics-queries.js';
import type { DeploymentPatch, NewEvent, NewLogLine, NewRun, NewStage, RunFilter, RunPatch, StagePatch, Store } from './types.js';
import { constraintViolation } from './violations.js';

export const DEFAULT_LIST_LIMIT = 100;
export const DEFAULT_EVENT_LIMIT = 1000;

// Arbitrary constant naming the PostgreSQL advisory lock that serialises event appends.
const EVENTS_LOCK_KEY = 7_270_110_001;

const ACTIVE = [...ACTIVE_DEPLOYMENT_STATUSES];

export class KyselyStore implements Store {
  readonly audit: AuditQueries;
  readonly auth: AuthQueries;
  readonly secrets: SecretsQueries;
  readonly flags: FlagsQueries;
  readonly flagMetrics: FlagMetricsQueries;

  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: SqlDialect,
  ) {
    this.audit = new AuditQueries(db, dialect);
    this.auth = new AuthQueries(db, dialect);
    this.secrets = new SecretsQueries(db, dialect);
    this.flags = new FlagsQueries(db, dialect);
    this.flagMetrics = new FlagMetricsQueries(db, dialect);
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: new StoreMigrationProvider(this.dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new RollgateError('internal', `database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  // ---- settings

  async getSetting(key: string): Promise<string | null> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value ?? null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    const at = now();
    await this.db
      .insertInto('settings')
      .values({ key, value, updated_at: at })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at }))
      .execute();
  }

  // ---- apps and environments

  upsertApp(name: string, spec: unknown): Promise<AppRecord> {
    return this.upsertSpec('apps', name, spec);
  }
  getApp(name: string): Promise<AppRecord | null> {
    return this.getSpec('apps', name);
  }
  listApps(): Promise<AppRecord[]> {
    return this.listSpecs('apps');
  }
  upsertEnvironment(name: string, spec: unknown): Promise<EnvironmentRecord> {
    return this.upsertSpec('environments', name, spec);
  }
  getEnvironment(name: string): Promise<EnvironmentRecord | null> {
    return this.getSpec('environments', name);
  }
  listEnvironments(): Promise<EnvironmentRecord[]> {
    return this.listSpecs('environments');
  }

  private async upsertSpec(table: 'apps' | 'environments', name: string, spec: unknown): Promise<AppRecord> {
    const at = now();
    const text = JSON.stringify(spec ?? null);
    const row = await this.db
      .insertInto(table)
      .values({ name, spec: text, created_at: at, updated_at: at })
      .onConflict((oc) => oc.column('name').doUpdateSet({ spec: text, updated_at: at }))
      .returningAll()
      .executeTakeFirstOrThrow();
    return specRecord(row);
  }

  private async getSpec(table: 'apps' | 'environments', name: string): Promise<AppRecord | null> {
    const row = await this.db.selectFrom(table).selectAll().where('name', '=', name).executeTakeFirst();
    return row ? specRecord(row) : null;
  }

  private async listSpecs(table: 'apps' | 'environments'): Promise<AppRecord[]> {
    const rows = await this.db.selectFrom(table).selectAll().orderBy('name').execute();
    return rows.map(specRecord);
  }

  // ---- releases

  async createRelease(r: Omit<ReleaseRecord, 'createdAt' | 'prunedAt'>): Promise<ReleaseRecord> {
    try {
      // ON CONFLICT DO NOTHING keeps a retried or concurrent create free of errors; the
      // row read back below then decides: same content is the same release.
      await this.db
        .insertInto('releases')
        .values({
          id: r.id,
          app: r.app,
          version: r.version,
          content_hash: r.contentHash,
          artifact_dir: r.artifactDir,
          commit_sha: r.commitSha,
          commit_time: r.commitTime,
          created_at: now(),
          created_by: r.createdBy,
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
    } catch (e) {
      if (constraintViolation(e)?.kind === 'foreign_key') {
        throw new RollgateError('not_found', `app "${r.app}" is not known to the store; apply the spec that defines it before creating a release`);
      }
      throw e;
    }
    const existing = await this.getReleaseByVersion(r.app, r.version);
    if (!existing) {
      throw new RollgateError('conflict', `release id ${r.id} is already used by another release; use a new id`);
    }
    if (existing.contentHash !== r.contentHash) {
      throw new RollgateError(
        'conflict',
        `app "${r.app}" already has a release ${r.version} with different content (releases are immutable); pick a new version`,
        { releaseId: existing.id },
      );
    }
    return existing;
  }

  async getRelease(id: string): Promise<ReleaseRecord | null> {
    const row = await this.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? releaseRecord(row) : null;
  }

  async getReleaseByVersion(app: string, version: string): Promise<ReleaseRecord | null> {
    const row = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('app', '=', app)
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? releaseRecord(row) : null;
  }

  /** Newest first; at most `limit` (default 100). */
  async listReleases(app: string, limit = DEFAULT_LIST_LIMIT): Promise<ReleaseRecord[]> {
    const rows = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('app', '=', app)
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.map(releaseRecord);
  }

  async markReleasePruned(id: string): Promise<boolean> {
    const r = await this.db.updateTable('releases').set({ pruned_at: now() }).where('id', '=', id).where('pruned_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async restoreRelease(id: string, artifactDir: string): Promise<ReleaseRecord> {
    await this.db.updateTable('releases').set({ pruned_at: null, artifact_dir: artifactDir }).where('id', '=', id).execute();
    const r = await this.getRelease(id);
    if (!r) throw new RollgateError('not_found', `no release ${id}`);
    return r;
  }

  // ---- deployments

  async createDeployment(d: Omit<DeploymentRecord, 'createdAt' | 'updatedAt'>): Promise<DeploymentRecord> {
    // A lost race against a deployment that finishes at that very moment leaves nothing to
    // name; trying again is then correct, and a couple of tries is plenty.
    for (let attempt = 0; ; attempt++) {
      try {
        const row = await this.db.insertInto('deployments').values(deploymentRow(d, now())).returningAll().executeTakeFirstOrThrow();
        return deploymentRecord(row);
      } catch (e) {
        const v = constraintViolation(e);
        if (!v) throw e;
        if (v.kind === 'foreign_key') {
          throw new RollgateError(
            'not_found',
            `deployment ${d.id} refers to an unknown app "${d.app}", environment "${d.env}" or release ${d.releaseId}; create them before deploying`,
          );
        }
        if (v.kind !== 'unique') throw e;
        const same = await this.getDeployment(d.id);
        if (same) {
          // A retried create (e.g. after a crash) of the very same deployment is a no-op.
          if (same.app === d.app && same.env === d.env && same.releaseId === d.releaseId) return same;
          throw new RollgateError('conflict', `deployment id ${d.id} is already used by another deployment; use a new id`);
        }
        const active = await this.getActiveDeployment(d.app, d.env);
        if (active) throw inProgress(active);
        if (attempt >= 3) throw e;
      }
    }
  }

  async getDeployment(id: string): Promise<DeploymentRecord | null> {
    const row = await this.db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? deploymentRecord(row) : null;
  }

  async getActiveDeployment(app: string, env: string): Promise<DeploymentRecord | null> {
    const row = await this.db
      .selectFrom('deployments')
      .selectAll()
      .where('app', '=', app)
      .where('env', '=', env)
      .where('status', 'in', ACTIVE)
      .executeTakeFirst();
    return row ? deploymentRecord(row) : null;
  }

  async listActiveDeployments(): Promise<DeploymentRecord[]> {
    const rows = await this.db.selectFrom('deployments').selectAll().where('status', 'in', ACTIVE).orderBy('seq').execute();
    return rows.map(deploymentRecord);
  }

  /** Newest first; at most `limit` (default 100). */
  async listDeployments(filter: { app?: string; env?: string; limit?: number }): Promise<DeploymentRecord[]> {
    let q = this.db.selectFrom('deployments').selectAll();
    if (filter.app !== undefined) q = q.where('app', '=', filter.app);
    if (filter.env !== undefined) q = q.where('env', '=', filter.env);
    const rows = await q
      .orderBy('seq', 'desc')
      .limit(filter.limit ?? DEFAULT_LIST_LIMIT)
      .execute();
    return rows.map(deploymentRecord);
  }

  async updateDeployment(id: string, patch: DeploymentPatch): Promise<DeploymentRecord> {
    const set: { updated_at: string; status?: string; state?: string; message?: string; started_at?: string | null; finished_at?: string | null } = {
      updated_at: now(),
    };
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.state !== undefined) set.state = JSON.stringify(patch.state);
    if (patch.message !== undefined) set.message = patch.message;
    if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
    if (patch.finishedAt !== undefined) set.finished_at = patch.finishedAt;
    let row;
    try {
      row = await this.db.updateTable('deployments').set(set).where('id', '=', id).returningAll().executeTakeFirst();
    } catch (e) {
      // Re-activating a finished deployment while another one is active.
      if (constraintViolation(e)?.constraint === 'deployments_one_active') {
        const current = await this.getDeployment(id);
        const active = current ? await this.getActiveDeployment(current.app, current.env) : null;
        if (active) throw inProgress(active);
      }
      throw e;
    }
    if (!row) throw new RollgateError('not_found', `deployment ${id} does not exist; list deployments with \`rollgate history\``);
    return deploymentRecord(row);
  }

  // ---- deployment timeline

  async addDeploymentEvent(deploymentId: string, kind: string, message: string, data?: unknown): Promise<DeploymentEventRecord> {
    try {
      const row = await this.db
        .insertInto('deployment_events')
        .values({ deployment_id: deploymentId, at: now(), kind, message, data: toJson(data) })
        .returningAll()
        .executeTakeFirstOrThrow();
      return deploymentEventRecord(row);
    } catch (e) {
      if (constraintViolation(e)?.kind === 'foreign_key') {
        throw new RollgateError('not_found', `deployment ${deploymentId} does not exist; list deployments with \`rollgate history\``);
      }
      throw e;
    }
  }

  async listDeploymentEvents(deploymentId: string): Promise<DeploymentEventRecord[]> {
    const rows = await this.db
      .selectFrom('deployment_events')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .orderBy('id')
      .execute();
    return rows.map(deploymentEventRecord);
  }

  // ---- service state

  async getServiceState(app: string, env: string): Promise<ServiceStateRecord | null> {
    const row = await this.db.selectFrom('service_state').selectAll().where('app', '=', app).where('env', '=', env).executeTakeFirst();
    return row ? serviceStateRecord(row) : null;
  }

  async setServiceState(app: string, env: string, currentReleaseId: string | null, previousReleaseId: string | null): Promise<void> {
    const at = now();
    try {
      await this.db
        .insertInto('service_state')
        .values({ app, env, current_release_id: currentReleaseId, previous_release_id: previousReleaseId, updated_at: at })
        .onConflict((oc) =>
          oc.columns(['app', 'env']).doUpdateSet({ current_release_id: currentReleaseId, previous_release_id: previousReleaseId, updated_at: at }),
        )
        .execute();
    } catch (e) {
      if (constraintViolation(e)?.kind === 'foreign_key') {
        throw new RollgateError(
          'not_found',
          `service ${app}/${env} refers to an unknown app, environment or release (${currentReleaseId ?? '-'}, ${previousReleaseId ?? '-'}); create them first`,
        );
      }
      throw e;
    }
  }

  async listServiceStates(): Promise<ServiceStateRecord[]> {
    const rows = await this.db.selectFrom('service_state').selectAll().orderBy('app').orderBy('env').execute();
    return rows.map(serviceStateRecord);
  }

  // ---- event stream

  async appendEvent(e: NewEvent): Promise<EventRecord> {
    const insert = (db: Kysely<Database> | Transaction<Database>) =>
      db
        .insertInto('events')
        .values({ at: now(), type: e.type, app: e.app ?? null, env: e.env ?? null, deployment_id: e.deploymentId ?? null, data: toJson(e.data) })
        .returningAll()
        .executeTakeFirstOrThrow();
    if (this.dialect === 'sqlite') {
      // SQLite has one writer at a time, so ids are handed out in commit order already.
      return eventRecord(await insert(this.db));
    }
    // PostgreSQL hands out sequence values before commit: without this lock a reader could
    // see id 11 committed before id 10 and, resuming after 11, never see 10.
    return eventRecord(
      await this.db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${sql.lit(EVENTS_LOCK_KEY)})`.execute(trx);
        return insert(trx);
      }),
    );
  }

  /** Events with id > afterId, oldest first; at most `limit` (default 1000). */
  async listEvents(afterId: number, limit = DEFAULT_EVENT_LIMIT): Promise<EventRecord[]> {
    const rows = await this.db.selectFrom('events').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
    return rows.map(eventRecord);
  }

  /** The newest `limit` events with id > afterId, oldest first: read newest first on the primary key, then turned. */
  async listLatestEvents(afterId: number, limit: number): Promise<EventRecord[]> {
    const rows = await this.db.selectFrom('events').selectAll().where('id', '>', afterId).orderBy('id', 'desc').limit(limit).execute();
    return rows.reverse().map(eventRecord);
  }

  // ---- incidents

  async createIncident(i: NewIncident): Promise<{ incident: IncidentRecord; created: boolean }> {
    // A lost race against a resolution at that very moment leaves nothing to return: try again.
    for (let attempt = 0; ; attempt++) {
      const at = now();
      try {
        const row = await this.db
          .insertInto('incidents')
          .values({
            id: i.id,
            app: i.app,
            env: i.env,
            production: i.production ? 1 : 0,
            deployment_id: i.deploymentId,
            source: i.source,
            title: i.title,
            severity: i.severity,
            status: 'open',
            opened_at: i.openedAt,
            resolved_at: null,
            resolved_by: null,
            resolved_by_deployment_id: null,
            resolution: null,
            fingerprint: i.fingerprint,
            labels: JSON.stringify(i.labels),
            created_at: at,
            updated_at: at,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return { incident: incidentRecord(row), created: true };
      } catch (e) {
        if (constraintViolation(e)?.kind !== 'unique') throw e;
        if (i.deploymentId !== null) {
          const [same] = await this.listIncidents({ deploymentId: i.deploymentId, limit: 1 });
          if (same) return { incident: same, created: false };
        }
        if (i.fingerprint !== null) {
          const [same] = await this.listIncidents({ fingerprint: i.fingerprint, sources: [i.source], status: 'open', limit: 1 });
          if (same) return { incident: same, created: false };
        }
        if (await this.getIncident(i.id)) throw new RollgateError('conflict', `incident id ${i.id} is already used by another incident; use a new id`);
        if (attempt >= 3) throw e;
      }
    }
  }

  async getIncident(id: string): Promise<IncidentRecord | null> {
    const row = await this.db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? incidentRecord(row) : null;
  }

  async listIncidents(f: IncidentFilter): Promise<IncidentRecord[]> {
    let q = this.db.selectFrom('incidents').selectAll();
    if (f.app !== undefined) q = q.where('app', '=', f.app);
    if (f.env !== undefined) q = q.where('env', '=', f.env);
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    if (f.sources !== undefined) q = f.sources.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where('source', 'in', [...f.sources]);
    if (f.fingerprint !== undefined) q = q.where('fingerprint', '=', f.fingerprint);
    if (f.deploymentId !== undefined) q = q.where('deployment_id', '=', f.deploymentId);
    if (f.since !== undefined) q = q.where('opened_at', '>=', f.since);
    const rows = await q
      .orderBy('seq', 'desc')
      .limit(f.limit ?? DEFAULT_LIST_LIMIT)
      .execute();
    return rows.map(incidentRecord);
  }

  async resolveIncident(id: string, r: IncidentResolution): Promise<{ incident: IncidentRecord; changed: boolean } | null> {
    const row = await this.db
      .updateTable('incidents')
      .set({
        status: 'resolved',
        resolved_at: r.resolvedAt,
        resolved_by: r.resolvedBy,
        resolved_by_deployment_id: r.resolvedByDeploymentId,
        resolution: r.resolution,
        updated_at: now(),
      })
      .where('id', '=', id)
      .where('status', '=', 'open')
      .returningAll()
      .executeTakeFirst();
    if (row) return { incident: incidentRecord(row), changed: true };
    const existing = await this.getIncident(id);
    return existing ? { incident: existing, changed: false } : null;
  }

  // ---- chaos experiments

  async createChaos(c: ChaosRecord): Promise<ChaosRecord> {
    try {
      const row = await this.db
        .insertInto('chaos_experiments')
        .values({
          id: c.id,
          app: c.app,
          env: c.env,
          version: c.version,
          kind: c.kind,
          error_rate: c.errorRate,
          latency_ms: c.latencyMs,
          status: c.status,
          started_at: c.startedAt,
          ends_at: c.endsAt,
          stopped_at: c.stoppedAt,
          actor: c.actor,
          detail: c.detail,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return chaosRecord(row);
    } catch (e) {
      const v = constraintViolation(e);
      if (v?.kind === 'unique' && v.constraint === 'chaos_one_active_fault') {
        throw new RollgateError('conflict', `${c.app} ${c.version} in ${c.env} already has an active fault; stop it first (rollgate chaos stop ${c.app} --env ${c.env})`);
      }
      if (v?.kind === 'unique') throw new RollgateError('conflict', `chaos experiment id ${c.id} is already used; use a new id`);
      throw e;
    }
  }

  async getChaos(id: string): Promise<ChaosRecord | null> {
    const row = await this.db.selectFrom('chaos_experiments').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? chaosRecord(row) : null;
  }

  async listChaos(f: ChaosFilter): Promise<ChaosRecord[]> {
    let q = this.db.selectFrom('chaos_experiments').selectAll();
    if (f.app !== undefined) q = q.where('app', '=', f.app);
    if (f.env !== undefined) q = q.where('env', '=', f.env);
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    const rows = await q
      .orderBy('seq', 'desc')
      .limit(f.limit ?? DEFAULT_LIST_LIMIT)
      .execute();
    return rows.map(chaosRecord);
  }

  async updateActiveChaos(id: string, patch: ChaosPatch): Promise<ChaosRecord | null> {
    const set: { status?: string; stopped_at?: string | null; ends_at?: string; detail?: string | null } = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.stoppedAt !== undefined) set.stopped_at = patch.stoppedAt;
    if (patch.endsAt !== undefined) set.ends_at = patch.endsAt;
    if (patch.detail !== undefined) set.detail = patch.detail;
    if (Object.keys(set).length === 0) {
      const cur = await this.getChaos(id);
      return cur?.status === 'active' ? cur : null;
    }
    const row = await this.db.updateTable('chaos_experiments').set(set).where('id', '=', id).where('status', '=', 'active').returningAll().executeTakeFirst();
    return row ? chaosRecord(row) : null;
  }

  async stopActiveChaos(app: string, env: string, version: string | null, at: string, detail: string): Promise<ChaosRecord[]> {
    let q = this.db
      .updateTable('chaos_experiments')
      .set({ status: 'stopped', stopped_at: at, detail })
      .where('app', '=', app)
      .where('env', '=', env)
      .where('status', '=', 'active');
    if (version !== null) q = q.where('version', '=', version);
    const rows = await q.returningAll().execute();
    return rows.map(chaosRecord).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  async expireChaos(nowIso: string): Promise<ChaosRecord[]> {
    // Conditional on status, so with several servers each experiment expires exactly once.
    const rows = await this.db
      .updateTable('chaos_experiments')
      .set((eb) => ({ status: 'expired', stopped_at: eb.ref('ends_at') }))
      .where('status', '=', 'active')
      .where('ends_at', '<=', nowIso)
      .returningAll()
      .execute();
    return rows.map(chaosRecord).sort((a, b) => a.endsAt.localeCompare(b.endsAt));
  }

  // ---- pipeline runs (queries in pipeline-queries.ts)

  createRun(run: NewRun, stages: NewStage[]): Promise<PipelineRunRecord> {
    return pipelines.createRun(this.db, run, stages);
  }
  getRun(id: string): Promise<PipelineRunRecord | null> {
    return pipelines.getRun(this.db, id);
  }
  listRuns(filter: RunFilter): Promise<PipelineRunRecord[]> {
    return pipelines.listRuns(this.db, filter);
  }
  listActiveRuns(): Promise<PipelineRunRecord[]> {
    return pipelines.listActiveRuns(this.db);
  }
  updateRun(id: string, patch: RunPatch): Promise<PipelineRunRecord> {
    return pipelines.updateRun(this.db, id, patch);
  }
  listStages(runId: string): Promise<StageRecord[]> {
    return pipelines.listStages(this.db, runId);
  }
  updateStage(runId: string, name: string, patch: StagePatch): Promise<StageRecord> {
    return pipelines.updateStage(this.db, runId, name, patch);
  }
  addApproval(a: Omit<ApprovalRecord, 'at'>): Promise<ApprovalRecord> {
    return pipelines.addApproval(this.db, a);
  }
  listApprovals(runId: string, stage?: string, attempt?: number): Promise<ApprovalRecord[]> {
    return pipelines.listApprovals(this.db, runId, stage, attempt);
  }
  appendStageLogs(runId: string, stage: string, attempt: number, lines: NewLogLine[]): Promise<StageLogLine[]> {
    return pipelines.appendStageLogs(this.db, this.dialect, runId, stage, attempt, lines);
  }
  listStageLogs(runId: string, filter: { stage?: string | undefined; attempt?: number | undefined; afterId?: number | undefined; limit?: number | undefined }): Promise<StageLogLine[]> {
    return pipelines.listStageLogs(this.db, runId, filter);
  }

  // ---- notification delivery log (queries in delivery-queries.ts)

  recordDelivery(a: DeliveryAttempt): Promise<void> {
    return deliveries.recordDelivery(this.db, a);
  }
  listDeliveries(filter: DeliveryFilter): Promise<DeliveryAttempt[]> {
    return deliveries.listDeliveries(this.db, filter);
  }
}

function inProgress(active: DeploymentRecord): RollgateError {
  return new RollgateError(
    'deployment_in_progress',
    `app "${active.app}" already has deployment ${active.id} (${active.status}) in progress in "${active.env}"; wait for it, or run \`rollgate abort ${active.app} --env ${active.env}\``,
    { deploymentId: active.id },
  );
}
