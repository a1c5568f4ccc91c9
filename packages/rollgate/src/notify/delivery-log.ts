/**
 * The delivery log: one entry per attempt (and per drop). Pluggable: the in-memory one here,
 * a store-backed one later. Entries carry the notification (no secrets) and a masked target,
 * never a secret or a full secret-bearing URL.
 */
import type { Notification, NotifierKind } from './types.js';

export type AttemptOutcome = 'delivered' | 'retrying' | 'failed' | 'dropped';

export interface DeliveryAttempt {
  deliveryId: string;
  /** 1-based attempt number; 0 for a delivery dropped before its first attempt. */
  attempt: number;
  channel: string;
  kind: NotifierKind;
  /** Masked URL. */
  target: string;
  notification: Notification;
  at: string;
  outcome: AttemptOutcome;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  /** When retrying: the backoff chosen, and when the next attempt is due. */
  retryInMs: number | null;
  nextAttemptAt: string | null;
  /** Set on deliveries made by `resend`. */
  resendOf: string | null;
}

export interface DeliveryFilter {
  deliveryId?: string | undefined;
  channel?: string | undefined;
  outcome?: AttemptOutcome | undefined;
  notificationId?: string | undefined;
  /** Newest first, at most this many. */
  limit?: number | undefined;
}

export interface DeliveryLog {
  record(a: DeliveryAttempt): Promise<void>;
  /** Newest first. */
  list(filter?: DeliveryFilter): Promise<DeliveryAttempt[]>;
}

/** Keeps the latest `capacity` attempts in memory. */
export class MemoryDeliveryLog implements DeliveryLog {
  private readonly entries: DeliveryAttempt[] = [];
  constructor(private readonly capacity = 10_000) {}

  async record(a: DeliveryAttempt): Promise<void> {
    this.entries.push(a);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  async list(f: DeliveryFilter = {}): Promise<DeliveryAttempt[]> {
    const out: DeliveryAttempt[] = [];
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const a = this.entries[i] as DeliveryAttempt;
      if (f.deliveryId && a.deliveryId !== f.deliveryId) continue;
      if (f.channel && a.channel !== f.channel) continue;
      if (f.outcome && a.outcome !== f.outcome) continue;
      if (f.notificationId && a.notification.id !== f.notificationId) continue;
      out.push(a);
      if (f.limit !== undefined && out.length >= f.limit) break;
    }
    return out;
  }
}
