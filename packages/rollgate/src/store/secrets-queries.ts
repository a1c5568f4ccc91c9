/** SecretsStore over Kysely, for SQLite and PostgreSQL. */
import type { Kysely, Selectable } from 'kysely';
import { RollgateError } from '../core/errors.js';
import { now } from './rows.js';
import type { Database, SqlDialect } from './schema.js';
import type { SecretsTable } from './schema-secrets.js';
import type { NewSecretVersion, SecretVersionMeta, SecretsStore, StoredSecret } from './secrets-types.js';
import { constraintViolation } from './violations.js';

const META = ['s.app', 's.env', 's.name', 's.version', 's.created_at', 's.created_by'] as const;

type MetaRow = Pick<Selectable<SecretsTable>, 'app' | 'env' | 'name' | 'version' | 'created_at' | 'created_by'>;

function metaOf(r: MetaRow): SecretVersionMeta {
  return { app: r.app, env: r.env, name: r.name, version: Number(r.version), createdAt: r.created_at, createdBy: r.created_by };
}

function storedOf(r: Selectable<SecretsTable>): StoredSecret {
  return {
    ...metaOf(r),
    keyId: r.key_id,
    nonce: Buffer.from(r.nonce, 'base64'),
    ciphertext: Buffer.from(r.ciphertext, 'base64'),
    tag: Buffer.from(r.tag, 'base64'),
  };
}

export class SecretsQueries implements SecretsStore {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: SqlDialect,
  ) {}

  async lastSecretVersion(app: string, env: string, name: string): Promise<number> {
    const r = await this.db
      .selectFrom('secrets')
      .select((eb) => eb.fn.max('version').as('v'))
      .where('app', '=', app)
      .where('env', '=', env)
      .where('name', '=', name)
      .executeTakeFirst();
    return r?.v == null ? 0 : Number(r.v);
  }

  async addSecretVersion(v: NewSecretVersion): Promise<SecretVersionMeta> {
    const row = {
      app: v.app,
      env: v.env,
      name: v.name,
      version: v.version,
      key_id: v.keyId,
      nonce: v.nonce.toString('base64'),
      ciphertext: v.ciphertext.toString('base64'),
      tag: v.tag.toString('base64'),
      created_at: now(),
      created_by: v.createdBy,
      deleted_at: null,
    };
    try {
      await this.db.insertInto('secrets').values(row).execute();
    } catch (e) {
      if (constraintViolation(e)?.kind === 'unique') {
        throw new RollgateError('conflict', `secret ${v.name} of ${v.app} in ${v.env} was changed by someone else at the same time (version ${v.version} is taken); try again`);
      }
      throw e;
    }
    return metaOf(row);
  }

  async currentSecret(app: string, env: string, name: string): Promise<StoredSecret | null> {
    const r = await this.current().where('s.app', '=', app).where('s.env', '=', env).where('s.name', '=', name).selectAll('s').executeTakeFirst();
    return r ? storedOf(r) : null;
  }

  async currentSecrets(app: string, env: string): Promise<StoredSecret[]> {
    const rows = await this.current().where('s.app', '=', app).where('s.env', '=', env).selectAll('s').orderBy('s.name').execute();
    return rows.map(storedOf);
  }

  async listSecrets(app: string, env?: string): Promise<SecretVersionMeta[]> {
    let q = this.current().where('s.app', '=', app);
    if (env !== undefined) q = q.where('s.env', '=', env);
    // Only metadata columns: a listing never carries ciphertext.
    const rows = await q.select(META).orderBy('s.env').orderBy('s.name').execute();
    return rows.map(metaOf);
  }

  async deleteSecret(app: string, env: string, name: string): Promise<number[]> {
    const rows = await this.db
      .updateTable('secrets')
      .set({ deleted_at: now() })
      .where('app', '=', app)
      .where('env', '=', env)
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      .returning('version')
      .execute();
    return rows.map((r) => Number(r.version)).sort((a, b) => a - b);
  }

  /** Rows that are the current version of their secret: not deleted, and no higher version is. */
  private current() {
    return this.db
      .selectFrom('secrets as s')
      .where('s.deleted_at', 'is', null)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('secrets as t')
              .select('t.version')
              .whereRef('t.app', '=', 's.app')
              .whereRef('t.env', '=', 's.env')
              .whereRef('t.name', '=', 's.name')
              .whereRef('t.version', '>', 's.version')
              .where('t.deleted_at', 'is', null),
          ),
        ),
      );
  }
}
