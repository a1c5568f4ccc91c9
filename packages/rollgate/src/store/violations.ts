/**
 * Recognises constraint violations from either driver, so callers can turn the ones a
 * user can cause into RollgateErrors. better-sqlite3 names the columns, pg names the
 * constraint; both are mapped to the constraint names of the migrations.
 */
export type ViolationKind = 'unique' | 'foreign_key' | 'check';

export interface Violation {
  kind: ViolationKind;
  /** Constraint name as created by the migrations, when it can be told. */
  constraint: string | null;
}

// SQLite reports a unique violation as "UNIQUE constraint failed: t.a, t.b".
const SQLITE_UNIQUE_COLUMNS: Record<string, string> = {
  'deployments.app, deployments.env': 'deployments_one_active',
  'deployments.id': 'deployments_id_unique',
  'releases.id': 'releases_id_unique',
  'releases.app, releases.version': 'releases_app_version_unique',
  'incidents.id': 'incidents_id_unique',
  'incidents.deployment_id': 'incidents_one_per_deployment',
  'incidents.source, incidents.fingerprint': 'incidents_one_open_fingerprint',
  'chaos_experiments.id': 'chaos_experiments_id_unique',
  'chaos_experiments.app, chaos_experiments.env, chaos_experiments.version': 'chaos_one_active_fault',
  'pipeline_runs.id': 'pipeline_runs_id_unique',
  'pipeline_stages.run_id, pipeline_stages.name': 'pipeline_stages_pk',
  'pipeline_approvals.run_id, pipeline_approvals.stage, pipeline_approvals.attempt, pipeline_approvals.actor': 'pipeline_approvals_one_per_actor',
};

const PG_CODES: Record<string, ViolationKind> = { '23505': 'unique', '23503': 'foreign_key', '23514': 'check' };
const SQLITE_CODES: Record<string, ViolationKind> = {
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign_key',
  SQLITE_CONSTRAINT_CHECK: 'check',
};

export function constraintViolation(e: unknown): Violation | null {
  if (typeof e !== 'object' || e === null) return null;
  const { code, constraint, message } = e as { code?: unknown; constraint?: unknown; message?: unknown };
  if (typeof code !== 'string') return null;
  const pgKind = PG_CODES[code];
  if (pgKind) return { kind: pgKind, constraint: typeof constraint === 'string' ? constraint : null };
  const sqliteKind = SQLITE_CODES[code];
  if (sqliteKind) {
    const cols = typeof message === 'string' ? /constraint failed: (.*)$/.exec(message)?.[1] : undefined;
    return { kind: sqliteKind, constraint: (cols && SQLITE_UNIQUE_COLUMNS[cols]) ?? null };
  }
  return null;
}
