/**
 * The delivery log kept in the platform's store, so it survives restarts (and pending retries
 * can be resumed from it) and is shared by every server replica on one database.
 */
import type { Store } from '../store/types.js';
import type { DeliveryAttempt, DeliveryFilter, DeliveryLog } from './delivery-log.js';

export class StoreDeliveryLog implements DeliveryLog {
  constructor(private readonly store: Pick<Store, 'recordDelivery' | 'listDeliveries'>) {}

  record(a: DeliveryAttempt): Promise<void> {
    return this.store.recordDelivery(a);
  }

  /** Newest first; at most `limit` (the store's default, 100, when not given). */
  list(filter: DeliveryFilter = {}): Promise<DeliveryAttempt[]> {
    return this.store.listDeliveries(filter);
  }
}
