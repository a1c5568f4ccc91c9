/** The notification delivery log over Kysely: one row per attempt (and per drop). */
import type { Kysely } from 'kysely';
import type { DeliveryAttempt, DeliveryFilter } from '../notify/delivery-log.js';
import { deliveryRecord, deliveryRow } from './rows.js';
import type { Database } from './schema.js';

export const DEFAULT_DELIVERY_LIMIT = 100;

export async function recordDelivery(db: Kysely<Database>, a: DeliveryAttempt): Promise<void> {
  await db.insertInto('notification_deliveries').values(deliveryRow(a)).execute();
}

/** Newest (last recorded) first. */
export async function listDeliveries(db: Kysely<Database>, f: DeliveryFilter): Promise<DeliveryAttempt[]> {
  let q = db.selectFrom('notification_deliveries').selectAll();
  if (f.deliveryId !== undefined) q = q.where('delivery_id', '=', f.deliveryId);
  if (f.channel !== undefined) q = q.where('channel', '=', f.channel);
  if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
  if (f.notificationId !== undefined) q = q.where('notification_id', '=', f.notificationId);
  const rows = await q
    .orderBy('seq', 'desc')
    .limit(f.limit ?? DEFAULT_DELIVERY_LIMIT)
    .execute();
  return rows.map(deliveryRecord);
}
