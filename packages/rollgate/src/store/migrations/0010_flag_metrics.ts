/**
 * Flag usage reported by SDKs (Unleash's client metrics): counts per (app, env, flag, variant)
 * with the first and last time seen, what `flags stale` and the release guard read. The row with
 * variant '' holds the flag's yes/no counts; a variant's row holds in `yes` how often that variant
 * was served (`no` stays 0). Frozen once shipped (see 0001).
 */
import type { Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, _dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('flag_metrics')
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('variant', 'text', (c) => c.notNull())
    // bigint: counts add up for as long as the flag lives.
    .addColumn('yes', 'bigint', (c) => c.notNull())
    .addColumn('no', 'bigint', (c) => c.notNull())
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('flag_metrics_pk', ['app', 'env', 'name', 'variant'])
    .execute();
}
