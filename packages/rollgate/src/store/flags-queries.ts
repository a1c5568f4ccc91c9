/** FlagsStore over Kysely, for SQLite and PostgreSQL. */
import type { Kysely, Selectable } from 'kysely';
import type { Feature } from '@rollgate/sdk/engine';
import { auditStoreIn } from './audit-queries.js';
import type {
  FlagEnvState,
  FlagKeyKind,
  FlagKeyRecord,
  FlagKind,
  FlagPatch,
  FlagRecord,
  FlagState,
  FlagStateRecord,
  FlagsStore,
  FlagsTx,
  NewFlag,
  NewFlagKey,
  SegmentRecord,
} from './flags-types.js';
import { now } from './rows.js';
import type { FlagKeysTable, FlagStatesTable, FlagsTable } from './schema-flags.js';
import type { Database, SqlDialect } from './schema.js';
import { writeTransaction, type Db } from './write-transaction.js';
import { FlagRolloutQueries } from './flag-rollouts-queries.js';
import { FlagChangeRequestQueries } from './flag-change-requests-queries.js';

const KEY_META = ['id', 'app', 'env', 'kind', 'name', 'prefix', 'created_at', 'created_by', 'revoked_at', 'revoked_by'] as const;

function flagRecord(r: Selectable<FlagsTable>): FlagRecord {
  return {
    app: r.app,
    name: r.name,
    kind: r.kind as FlagKind,
    owner: r.owner,
    description: r.description,
    lifetimeDays: r.lifetime_days === null ? null : Number(r.lifetime_days),
    archived: r.archived_at !== null,
    archivedAt: r.archived_at,
    archivedBy: r.archived_by,
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
  };
}

function stateRecord(r: Selectable<FlagStatesTable>): FlagStateRecord {
  return { app: r.app, env: r.env, name: r.name, state: JSON.parse(r.feature) as FlagState, updatedAt: r.updated_at, updatedBy: r.updated_by };
}

function keyRecord(r: Pick<Selectable<FlagKeysTable>, (typeof KEY_META)[number]>): FlagKeyRecord {
  return {
    id: r.id,
    app: r.app,
    env: r.env,
    kind: r.kind as FlagKeyKind,
    name: r.name,
    prefix: r.prefix,
    createdAt: r.created_at,
    createdBy: r.created_by,
    revokedAt: r.revoked_at,
    revokedBy: r.revoked_by,
  };
}

/** The delivered Feature: the flag's own fields, then its state in the environment. */
function deliveredFeature(f: Selectable<FlagsTable>, stateJson: string): Feature {
  const s = JSON.parse(stateJson) as FlagState;
  return { name: f.name, type: f.kind, description: f.description, ...s };
}

async function getKeyOn(db: Db, id: string): Promise<FlagKeyRecord | null> {
  const r = await db.selectFrom('flag_keys').select(KEY_META).where('id', '=', id).executeTakeFirst();
  return r ? keyRecord(r) : null;
}

async function revisionOf(db: Db, app: string, env: string): Promise<number> {
  const r = await db.selectFrom('flag_revisions').select('revision').where('app', '=', app).where('env', '=', env).executeTakeFirst();
  return r ? Number(r.revision) : 0;
}

async function readStateOn(db: Db, app: string, env: string): Promise<FlagEnvState> {
  const revision = await revisionOf(db, app, env);
  const rows = await db
    .selectFrom('flag_states as s')
    .innerJoin('flags as f', (j) => j.onRef('f.app', '=', 's.app').onRef('f.name', '=', 's.name'))
    .selectAll('f')
    .select('s.feature')
    .where('s.app', '=', app)
    .where('s.env', '=', env)
    .where('f.archived_at', 'is', null)
    .orderBy('f.name')
    .execute();
  const segments = await db.selectFrom('flag_segments').selectAll().where('app', '=', app).where('env', '=', env).orderBy('id').execute();
  return {
    app,
    env,
    revision,
    state: {
      version: 1,
      features: rows.map((r) => deliveredFeature(r, r.feature)),
      segments: segments.map((s) => ({ id: Number(s.id), ...(s.name === null ? {} : { name: s.name }), constraints: JSON.parse(s.constraints) as SegmentRecord['constraints'] })),
    },
  };
}

class Tx implements FlagsTx {
  readonly audit;
  readonly rollouts;
  readonly changeRequests;
  constructor(
    private readonly db: Db,
    private readonly dialect: SqlDialect,
  ) {
    this.audit = auditStoreIn(db, dialect);
    this.rollouts = new FlagRolloutQueries(db);
    this.changeRequests = new FlagChangeRequestQueries(db);
  }

  async bumpRevision(app: string, env: string): Promise<number> {
    const at = now();
    const r = await this.db
      .insertInto('flag_revisions')
      .values({ app, env, revision: 1, updated_at: at })
      .onConflict((oc) => oc.columns(['app', 'env']).doUpdateSet((eb) => ({ revision: eb('flag_revisions.revision', '+', 1), updated_at: at })))
      .returning('revision')
      .executeTakeFirstOrThrow();
    return Number(r.revision);
  }

  async getFlag(app: string, name: string, opts: { lock?: boolean } = {}): Promise<FlagRecord | null> {
    let q = this.db.selectFrom('flags').selectAll().where('app', '=', app).where('name', '=', name);
    if (opts.lock && this.dialect === 'postgres') q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r ? flagRecord(r) : null;
  }

  async insertFlag(f: NewFlag): Promise<boolean> {
    const at = now();
    const r = await this.db
      .insertInto('flags')
      .values({ app: f.app, name: f.name, kind: f.kind, owner: f.owner, description: f.description, lifetime_days: f.lifetimeDays, archived_at: null, archived_by: null, created_at: at, created_by: f.createdBy, updated_at: at })
      .onConflict((oc) => oc.columns(['app', 'name']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async updateFlag(app: string, name: string, p: FlagPatch): Promise<void> {
    await this.db
      .updateTable('flags')
      .set({
        ...(p.kind !== undefined ? { kind: p.kind } : {}),
        ...(p.owner !== undefined ? { owner: p.owner } : {}),
        ...(p.description !== undefined ? { description: p.description } : {}),
        ...(p.lifetimeDays !== undefined ? { lifetime_days: p.lifetimeDays } : {}),
        updated_at: now(),
      })
      .where('app', '=', app)
      .where('name', '=', name)
      .execute();
  }

  async archiveFlag(app: string, name: string, actor: string): Promise<void> {
    const at = now();
    await this.db.updateTable('flags').set({ archived_at: at, archived_by: actor, updated_at: at }).where('app', '=', app).where('name', '=', name).execute();
  }

  async getState(app: string, env: string, name: string): Promise<FlagStateRecord | null> {
    const r = await this.db.selectFrom('flag_states').selectAll().where('app', '=', app).where('env', '=', env).where('name', '=', name).executeTakeFirst();
    return r ? stateRecord(r) : null;
  }

  async putState(app: string, env: string, name: string, state: FlagState, actor: string): Promise<void> {
    const at = now();
    const feature = JSON.stringify(state);
    await this.db
      .insertInto('flag_states')
      .values({ app, env, name, feature, updated_at: at, updated_by: actor })
      .onConflict((oc) => oc.columns(['app', 'env', 'name']).doUpdateSet({ feature, updated_at: at, updated_by: actor }))
      .execute();
  }

  async envsWithState(app: string, name: string): Promise<string[]> {
    const rows = await this.db.selectFrom('flag_states').select('env').where('app', '=', app).where('name', '=', name).orderBy('env').execute();
    return rows.map((r) => r.env);
  }

  async putSegment(app: string, env: string, s: SegmentRecord, actor: string): Promise<void> {
    const at = now();
    const constraints = JSON.stringify(s.constraints);
    const name = s.name ?? null;
    await this.db
      .insertInto('flag_segments')
      .values({ app, env, id: s.id, name, constraints, updated_at: at, updated_by: actor })
      .onConflict((oc) => oc.columns(['app', 'env', 'id']).doUpdateSet({ name, constraints, updated_at: at, updated_by: actor }))
      .execute();
  }

  readState(app: string, env: string): Promise<FlagEnvState> {
    return readStateOn(this.db, app, env);
  }

  async insertKey(k: NewFlagKey): Promise<FlagKeyRecord> {
    const row = { id: k.id, app: k.app, env: k.env, kind: k.kind, name: k.name, prefix: k.prefix, hash: k.hash, created_at: now(), created_by: k.createdBy, revoked_at: null, revoked_by: null };
    await this.db.insertInto('flag_keys').values(row).execute();
    return keyRecord(row);
  }

  getKey(id: string): Promise<FlagKeyRecord | null> {
    return getKeyOn(this.db, id);
  }

  async revokeKey(id: string, actor: string): Promise<FlagKeyRecord | null> {
    await this.db.updateTable('flag_keys').set({ revoked_at: now(), revoked_by: actor }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    return this.getKey(id);
  }
}

export class FlagsQueries implements FlagsStore {
  readonly rollouts: FlagRolloutQueries;
  readonly changeRequests: FlagChangeRequestQueries;
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: SqlDialect,
  ) {
    this.rollouts = new FlagRolloutQueries(db);
    this.changeRequests = new FlagChangeRequestQueries(db);
  }

  change<T>(fn: (tx: FlagsTx) => Promise<T>): Promise<T> {
    return writeTransaction(this.db, this.dialect, (trx) => fn(new Tx(trx, this.dialect)));
  }

  async getFlag(app: string, name: string): Promise<FlagRecord | null> {
    const r = await this.db.selectFrom('flags').selectAll().where('app', '=', app).where('name', '=', name).executeTakeFirst();
    return r ? flagRecord(r) : null;
  }

  async listFlags(app: string, opts: { archived?: boolean } = {}): Promise<FlagRecord[]> {
    let q = this.db.selectFrom('flags').selectAll().where('app', '=', app);
    if (!opts.archived) q = q.where('archived_at', 'is', null);
    return (await q.orderBy('name').execute()).map(flagRecord);
  }

  async flagStates(app: string, name: string): Promise<FlagStateRecord[]> {
    const rows = await this.db.selectFrom('flag_states').selectAll().where('app', '=', app).where('name', '=', name).orderBy('env').execute();
    return rows.map(stateRecord);
  }

  async appStates(app: string): Promise<FlagStateRecord[]> {
    const rows = await this.db.selectFrom('flag_states').selectAll().where('app', '=', app).orderBy('name').orderBy('env').execute();
    return rows.map(stateRecord);
  }

  readState(app: string, env: string): Promise<FlagEnvState> {
    // One snapshot: the revision and the rows it names are read together.
    if (this.dialect === 'postgres') return this.db.transaction().setIsolationLevel('repeatable read').execute((trx) => readStateOn(trx, app, env));
    return this.db.transaction().execute((trx) => readStateOn(trx, app, env));
  }

  revision(app: string, env: string): Promise<number> {
    return revisionOf(this.db, app, env);
  }

  async listKeys(app: string, env?: string): Promise<FlagKeyRecord[]> {
    let q = this.db.selectFrom('flag_keys').select(KEY_META).where('app', '=', app);
    if (env !== undefined) q = q.where('env', '=', env);
    return (await q.orderBy('env').orderBy('created_at').orderBy('id').execute()).map(keyRecord);
  }

  getKey(id: string): Promise<FlagKeyRecord | null> {
    return getKeyOn(this.db, id);
  }

  async keyByHash(hash: string): Promise<FlagKeyRecord | null> {
    const r = await this.db.selectFrom('flag_keys').select(KEY_META).where('hash', '=', hash).executeTakeFirst();
    return r ? keyRecord(r) : null;
  }
}
