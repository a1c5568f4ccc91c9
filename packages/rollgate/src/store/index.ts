/** Entry point of the store: picks PostgreSQL or SQLite and migrates on open. */
import { RollgateError } from '../core/errors.js';
import { KyselyStore } from './kysely-store.js';
import { isPostgresUrl, openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';
import type { Store } from './types.js';

export type { Store, NewEvent, DeploymentPatch, NewRun, NewStage, RunPatch, StagePatch, RunFilter, NewLogLine } from './types.js';
export { KyselyStore, DEFAULT_LIST_LIMIT, DEFAULT_EVENT_LIMIT } from './kysely-store.js';
export { SQLITE_FILE } from './sqlite.js';

export interface OpenStoreOptions {
  /** ROLLGATE_DATABASE_URL: postgres:// or postgresql://. When set, dataDir is not used. */
  url?: string;
  /** Directory of the SQLite file (`<dataDir>/rollgate.db`), created if missing. */
  dataDir?: string;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  let store: KyselyStore;
  if (opts.url) {
    if (!isPostgresUrl(opts.url)) {
      throw new RollgateError(
        'unavailable',
        'ROLLGATE_DATABASE_URL must start with postgres:// or postgresql://; unset it to use the SQLite file in the data directory',
      );
    }
    store = new KyselyStore(await openPostgres(opts.url), 'postgres');
  } else if (opts.dataDir) {
    store = new KyselyStore(openSqlite(opts.dataDir), 'sqlite');
  } else {
    throw new RollgateError('invalid_input', 'no database given: pass a data directory (--data-dir) or set ROLLGATE_DATABASE_URL');
  }
  try {
    await store.migrate();
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  return store;
}
