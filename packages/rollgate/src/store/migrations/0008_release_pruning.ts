/**
 * Release retention: a pruned release keeps its row (deployments, DORA and the audit trail name
 * it) while its files are removed; `pruned_at` says when. Frozen once shipped (see 0001).
 */
import type { Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, _dialect: SqlDialect): Promise<void> {
  await db.schema.alterTable('releases').addColumn('pruned_at', 'text').execute();
}
