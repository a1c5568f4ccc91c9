/**
 * The Store over Kysely: one implementation for SQLite and PostgreSQL. Dialect-specific
 * behaviour is limited to the migration's key type and the event-append lock below.
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
import { StoreMigrationProvider } from './migrations/index.js';
import {
  deploymentEventRecord,
  deploymentRecord,
  deploymentRow,
  eventRecord,
  now,
  releaseRecord,
  serviceStateRecord,
  specRecord,
  toJson,
} from './rows.js';
import type { Database, SqlDialect } from './schema.js';
import type { DeploymentPatch, NewEvent, Store } from './types.js';
import { constraintViolation } from './violations.js';

export const DEFAULT_LIST_LIMIT = 100;
export const DEFAULT_EVENT_LIMIT = 1000;

// Arbitrary constant naming the PostgreSQL advisory lock that serialises event appends.
const EVENTS_LOCK_KEY = 7_270_110_001;

const ACTIVE = [...ACTIVE_DEPLOYMENT_STATUSES];

export class KyselyStore implements Store {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: SqlDialect,
  ) {}

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

  async createRelease(r: Omit<ReleaseRecord, 'createdAt'>): Promise<ReleaseRecord> {
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
}

function inProgress(active: DeploymentRecord): RollgateError {
  return new RollgateError(
    'deployment_in_progress',
    `app "${active.app}" already has deployment ${active.id} (${active.status}) in progress in "${active.env}"; wait for it, or run \`rollgate abort ${active.app} --env ${active.env}\``,
    { deploymentId: active.id },
  );
}
