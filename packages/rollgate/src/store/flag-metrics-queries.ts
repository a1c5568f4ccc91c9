/** FlagMetricsStore over Kysely, for SQLite and PostgreSQL. */
import type { Kysely } from 'kysely';
import type { VersionMetrics } from '../core/dataplane.js';
import type { FlagMetricsStore, FlagOutcome, FlagOutcomeRow, FlagUsage, FlagUsageRecord } from './flag-metrics-types.js';
import type { Database, SqlDialect } from './schema.js';
import { writeTransaction } from './write-transaction.js';

/** The flag's own row (variant null) is stored under '' so that the key has no null in it. */
const OWN = '';

export class FlagMetricsQueries implements FlagMetricsStore {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: SqlDialect,
  ) {}

  async addUsage(app: string, env: string, seenAt: string, usage: readonly FlagUsage[]): Promise<void> {
    if (usage.length === 0) return;
    await writeTransaction(this.db, this.dialect, async (trx) => {
      for (const u of usage) {
        await trx
          .insertInto('flag_metrics')
          .values({ app, env, name: u.name, variant: u.variant ?? OWN, yes: u.yes, no: u.no, first_seen_at: seenAt, last_seen_at: seenAt })
          .onConflict((oc) =>
            oc.columns(['app', 'env', 'name', 'variant']).doUpdateSet((eb) => ({
              yes: eb('flag_metrics.yes', '+', eb.ref('excluded.yes')),
              no: eb('flag_metrics.no', '+', eb.ref('excluded.no')),
              // ISO-8601 UTC text orders as time does: keep the later of the two.
              last_seen_at: eb.fn(this.dialect === 'postgres' ? 'greatest' : 'max', [eb.ref('flag_metrics.last_seen_at'), eb.ref('excluded.last_seen_at')]),
              first_seen_at: eb.fn(this.dialect === 'postgres' ? 'least' : 'min', [eb.ref('flag_metrics.first_seen_at'), eb.ref('excluded.first_seen_at')]),
            })),
          )
          .execute();
      }
    });
  }

  async usage(app: string, env?: string, name?: string): Promise<FlagUsageRecord[]> {
    let q = this.db.selectFrom('flag_metrics').selectAll().where('app', '=', app);
    if (env !== undefined) q = q.where('env', '=', env);
    if (name !== undefined) q = q.where('name', '=', name);
    const rows = await q.orderBy('name').orderBy('env').orderBy('variant').execute();
    return rows.map((r) => ({
      app: r.app,
      env: r.env,
      name: r.name,
      variant: r.variant === OWN ? null : r.variant,
      yes: Number(r.yes),
      no: Number(r.no),
      firstSeenAt: r.first_seen_at,
      lastSeenAt: r.last_seen_at,
    }));
  }

  async addOutcomes(app: string, env: string, instanceId: string, receivedAt: string, outcomes: readonly FlagOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const rows = outcomes.map((o) => ({ app, env, flag: o.flag, variant: o.variant, instance_id: instanceId, received_at: receivedAt, metrics: JSON.stringify(o.metrics) }));
    await writeTransaction(this.db, this.dialect, async (trx) => {
      // One statement per 100 rows keeps PostgreSQL's parameter count far below its limit.
      for (let i = 0; i < rows.length; i += 100) await trx.insertInto('flag_outcomes').values(rows.slice(i, i + 100)).execute();
    });
  }

  async outcomesAfter(app: string, env: string, afterSeq: number, limit: number): Promise<FlagOutcomeRow[]> {
    const rows = await this.db.selectFrom('flag_outcomes').select(['seq', 'flag', 'variant', 'metrics']).where('app', '=', app).where('env', '=', env).where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({ seq: Number(r.seq), flag: r.flag, variant: r.variant, metrics: JSON.parse(r.metrics) as VersionMetrics }));
  }

  async lastOutcomeSeq(): Promise<number> {
    const r = await this.db.selectFrom('flag_outcomes').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
    return r?.seq === null || r?.seq === undefined ? 0 : Number(r.seq);
  }

  async pruneOutcomes(before: string): Promise<number> {
    const r = await this.db.deleteFrom('flag_outcomes').where('received_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
