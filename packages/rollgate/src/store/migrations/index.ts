/**
 * In-code migration provider: migrations are TS modules compiled with the rest, so no
 * directory scanning at run time and no files to ship beside dist/.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { SqlDialect } from '../schema.js';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_incidents_chaos.js';
import * as m0003 from './0003_pipelines.js';
import * as m0004 from './0004_audit.js';
import * as m0005 from './0005_auth.js';
import * as m0006 from './0006_secrets.js';
import * as m0007 from './0007_login_throttle.js';
import * as m0008 from './0008_release_pruning.js';
import * as m0009 from './0009_flags.js';
import * as m0010 from './0010_flag_metrics.js';
import * as m0011 from './0011_flag_rollouts.js';
import * as m0012 from './0012_flag_change_requests.js';
import * as m0013 from './0013_flag_outcomes.js';

interface StoreMigration {
  up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void>;
}

/** Ordered by name; append new migrations here. */
const MIGRATIONS: Record<string, StoreMigration> = {
  '0001_initial': m0001,
  '0002_incidents_chaos': m0002,
  '0003_pipelines': m0003,
  '0004_audit': m0004,
  '0005_auth': m0005,
  '0006_secrets': m0006,
  '0007_login_throttle': m0007,
  '0008_release_pruning': m0008,
  '0009_flags': m0009,
  '0010_flag_metrics': m0010,
  '0011_flag_rollouts': m0011,
  '0012_flag_change_requests': m0012,
  '0013_flag_outcomes': m0013,
};

export class StoreMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: SqlDialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    for (const [name, m] of Object.entries(MIGRATIONS)) {
      out[name] = { up: (db) => m.up(db, this.dialect) };
    }
    return out;
  }
}
