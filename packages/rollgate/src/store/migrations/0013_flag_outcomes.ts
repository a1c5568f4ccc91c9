/**
 * Request outcomes per flag variant as SDKs report them (apps behind another proxy than the
 * Rollgate router), for the guard of flag rollouts (flags/evidence/sdk.ts): one row per
 * (report, flag, variant) with its increments as JSON (requests, byClass, cutShort, latency
 * histogram). Append-only, read forward by `seq`, pruned after an hour. Frozen once shipped.
 */
import type { ColumnDefinitionBuilder, Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  const autoKey = dialect === 'postgres' ? 'bigserial' : 'integer';
  const autoKeyDef = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement());
  await db.schema
    .createTable('flag_outcomes')
    .addColumn('seq', autoKey, autoKeyDef)
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('flag', 'text', (c) => c.notNull())
    .addColumn('variant', 'text', (c) => c.notNull())
    .addColumn('instance_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('metrics', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('flag_outcomes_read').on('flag_outcomes').columns(['app', 'env', 'seq']).execute();
  await db.schema.createIndex('flag_outcomes_age').on('flag_outcomes').columns(['received_at']).execute();
}
