/**
 * Fans notifications out to subscribed channels and delivers them in the background: bounded
 * attempts with jittered exponential backoff, a timeout per attempt, a concurrency cap and a
 * bounded queue (oldest dropped, with a warning). `dispatch` never waits on an endpoint, so a
 * slow or dead receiver can never hold up a deployment or a pipeline.
 */
import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher as HttpDispatcher } from 'undici';
import type { EventRecord } from '../core/domain.js';
import { RollgateError, errorMessage } from '../core/errors.js';
import { silentLogger, type Logger } from '../engine/logger.js';
import { channelTarget, channelWants, notifierFor, type ChannelConfig } from './channel.js';
import { MemoryDeliveryLog, type DeliveryAttempt, type DeliveryLog } from './delivery-log.js';
import { notificationFromEvent, type NormaliseOptions } from './notification.js';
import type { DeliveryResult, Notification, Notifier } from './types.js';

export interface DispatcherOptions extends NormaliseOptions {
  channels?: ChannelConfig[];
  log?: DeliveryLog;
  logger?: Logger;
  /** Attempts per delivery, first one included (default 5). */
  maxAttempts?: number;
  /** Backoff before attempt k+1 is base·2^(k-1), capped, then jittered to [½, 1]× (default 1 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Attempts in flight at once (default 4). */
  concurrency?: number;
  /** Deliveries waiting (queued or backing off) before the oldest is dropped (default 1000). */
  queueLimit?: number;
  /** Log entries still `retrying` that `resumePending` looks through, newest first (default 5000). */
  resumeScanLimit?: number;
  /** `ce-source` of CDEvents (default `/rollgate`). */
  source?: string;
  /** Builds a channel's notifier (tests inject; default: by kind). */
  notifierFor?: (c: ChannelConfig) => Notifier;
  random?: () => number;
}

interface Job {
  deliveryId: string;
  channel: ChannelConfig;
  notifier: Notifier;
  notification: Notification;
  attempt: number;
  resendOf: string | null;
  timer?: NodeJS.Timeout;
}

const TIMELINE_ENDINGS = new Set(['deployment.succeeded', 'deployment.failed', 'deployment.aborted', 'deployment.rolled_back']);

export class NotificationDispatcher {
  readonly log: DeliveryLog;
  private channels: Array<{ config: ChannelConfig; notifier: Notifier }> = [];
  private readonly queue: Job[] = [];
  private readonly waiting = new Set<Job>();
  private running = 0;
  private pumpScheduled = false;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly http: HttpDispatcher;
  private readonly logger: Logger;
  private idleWaiters: Array<() => void> = [];
  private readonly o: Required<Pick<DispatcherOptions, 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'timeoutMs' | 'concurrency' | 'queueLimit' | 'resumeScanLimit' | 'random'>>;
  /** Deliveries this process holds (queued, backing off or in flight), so none is resumed twice. */
  private readonly live = new Set<string>();
  /** Records still being written, so idle() also means "the log is complete". */
  private readonly writes = new Set<Promise<void>>();

  constructor(private readonly opts: DispatcherOptions = {}) {
    this.log = opts.log ?? new MemoryDeliveryLog();
    this.logger = opts.logger ?? silentLogger;
    // Our own pool, so close() frees every socket and a receiver's keep-alive can't pin the process.
    this.http = new Agent({ keepAliveTimeout: 4_000, connections: 16 });
    this.o = {
      maxAttempts: opts.maxAttempts ?? 5,
      baseDelayMs: opts.baseDelayMs ?? 1_000,
      maxDelayMs: opts.maxDelayMs ?? 5 * 60_000,
      timeoutMs: opts.timeoutMs ?? 10_000,
      concurrency: opts.concurrency ?? 4,
      queueLimit: opts.queueLimit ?? 1_000,
      resumeScanLimit: opts.resumeScanLimit ?? 5_000,
      random: opts.random ?? Math.random,
    };
    this.setChannels(opts.channels ?? []);
  }

  /** Replaces the channel set (config reload). Deliveries already queued keep their channel. */
  setChannels(channels: ChannelConfig[]): void {
    this.channels = channels.map((config) => ({
      config,
      notifier: this.opts.notifierFor?.(config) ?? notifierFor(config, { http: this.http, source: this.opts.source }),
    }));
  }

  /** Feeds every event of the platform bus through `dispatchEvent`; returns the unsubscribe. */
  attach(bus: { subscribe(l: (e: EventRecord) => void): () => void }): () => void {
    return bus.subscribe((e) => {
      this.dispatchEvent(e);
    });
  }

  dispatchEvent(e: EventRecord): string[] {
    // A deployment's end is announced once, from `deployment.finished`; the timeline's own
    // `deployment.<outcome>` entry for the same moment would announce it twice.
    if (TIMELINE_ENDINGS.has(e.type)) return [];
    return this.dispatch(notificationFromEvent(e, this.opts));
  }

  /**
   * Queues one delivery per subscribed channel and returns their ids at once; the deliveries
   * run in the background.
   */
  dispatch(n: Notification): string[] {
    if (this.closed) return [];
    const ids: string[] = [];
    for (const c of this.channels) {
      if (!channelWants(c.config, n)) continue;
      const job: Job = { deliveryId: `dlv_${randomUUID()}`, channel: c.config, notifier: c.notifier, notification: n, attempt: 0, resendOf: null };
      this.enqueue(job);
      ids.push(job.deliveryId);
    }
    return ids;
  }

  /**
   * Delivers a logged delivery's notification again to the same channel (as configured now), as
   * a new delivery with `resendOf` set. The webhook id stays the notification's, so receivers
   * that already processed it can recognise it.
   */
  async resend(deliveryId: string): Promise<string> {
    const [last] = await this.log.list({ deliveryId, limit: 1 });
    if (!last) throw new RollgateError('not_found', `no delivery ${deliveryId} in the delivery log; list deliveries to find its id`);
    const c = this.channels.find((x) => x.config.name === last.channel);
    if (!c) throw new RollgateError('not_found', `channel "${last.channel}" of delivery ${deliveryId} no longer exists; add it back to resend`);
    if (this.closed) throw new RollgateError('unavailable', 'notifications are shutting down; try again after restart');
    const job: Job = { deliveryId: `dlv_${randomUUID()}`, channel: c.config, notifier: c.notifier, notification: last.notification, attempt: 0, resendOf: deliveryId };
    this.enqueue(job);
    return job.deliveryId;
  }

  /**
   * After a restart: picks up the deliveries the log shows still retrying (their newest entry is
   * `retrying`; a later entry, from before the stop or from another replica, supersedes it) and
   * schedules their next attempt when it was due, at once if that is past, under the same
   * delivery id with the attempt count going on. Deliveries of a channel that is gone are
   * logged as dropped. Returns how many were scheduled.
   */
  async resumePending(): Promise<number> {
    if (this.closed) return 0;
    const retrying = await this.log.list({ outcome: 'retrying', limit: this.o.resumeScanLimit });
    const seen = new Set<string>();
    const pending: DeliveryAttempt[] = [];
    for (const e of retrying) {
      if (seen.has(e.deliveryId) || this.live.has(e.deliveryId)) continue;
      seen.add(e.deliveryId);
      const [last] = await this.log.list({ deliveryId: e.deliveryId, limit: 1 });
      if (last?.outcome === 'retrying') pending.push(last);
    }
    // Oldest first, so the queue (and its limit) treats them as the older deliveries they are.
    pending.sort((a, b) => (a.nextAttemptAt ?? a.at).localeCompare(b.nextAttemptAt ?? b.at));
    let resumed = 0;
    for (const last of pending) {
      if (this.closed || this.live.has(last.deliveryId)) continue;
      const c = this.channels.find((x) => x.config.name === last.channel);
      if (!c) {
        this.logger.warn('pending notification delivery dropped: its channel is gone', { deliveryId: last.deliveryId, channel: last.channel, type: last.notification.type });
        this.write({ ...last, at: new Date().toISOString(), outcome: 'dropped', httpStatus: null, durationMs: 0, retryInMs: null, nextAttemptAt: null, error: `dropped: channel "${last.channel}" no longer exists (it was removed while the delivery waited to retry)` });
        continue;
      }
      const job: Job = { deliveryId: last.deliveryId, channel: c.config, notifier: c.notifier, notification: last.notification, attempt: last.attempt, resendOf: last.resendOf };
      if (job.attempt >= this.o.maxAttempts) {
        this.record(job, { outcome: 'failed', attempt: job.attempt, result: null, retryInMs: null, error: `${last.error ?? 'failed'}; gave up after ${job.attempt} attempts (the limit is now ${this.o.maxAttempts})` });
        continue;
      }
      const due = last.nextAttemptAt === null ? NaN : Date.parse(last.nextAttemptAt) - Date.now();
      // Capped: a clock that moved, or a log written with other settings, cannot park it for long.
      const delay = Number.isFinite(due) ? Math.min(Math.max(0, due), this.o.maxDelayMs) : 0;
      if (delay === 0) this.enqueue(job);
      else {
        this.makeRoom();
        this.live.add(job.deliveryId);
        this.retryLater(job, delay);
      }
      resumed++;
    }
    if (resumed > 0) this.logger.info('resumed pending notification deliveries', { count: resumed });
    return resumed;
  }

  /** Counts for health views. */
  stats(): { queued: number; waiting: number; running: number } {
    return { queued: this.queue.length, waiting: this.waiting.size, running: this.running };
  }

  /** Resolves once nothing is queued, backing off or in flight, and the log is written. */
  async idle(): Promise<void> {
    while (!this.isIdle() || this.writes.size > 0) {
      if (this.writes.size > 0) await Promise.all([...this.writes]);
      else await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  /** Stops: pending deliveries are abandoned (not logged as failed), attempts in flight aborted. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const j of this.waiting) clearTimeout(j.timer);
    this.waiting.clear();
    this.queue.length = 0;
    this.live.clear();
    this.abort.abort(new Error('notifications shut down'));
    this.wakeIdle();
    await Promise.all([...this.writes]);
    await this.http.close().catch(() => undefined);
  }

  private enqueue(job: Job): void {
    this.makeRoom();
    this.live.add(job.deliveryId);
    this.queue.push(job);
    this.schedulePump();
  }

  /** Drops the oldest deliveries until one more fits the queue limit. */
  private makeRoom(): void {
    while (this.queue.length + this.waiting.size >= this.o.queueLimit) {
      const victim = this.queue.shift() ?? this.oldestWaiting();
      if (!victim) break;
      this.drop(victim);
    }
  }

  /** Parks a delivery until its next attempt is due. */
  private retryLater(job: Job, delay: number): void {
    job.timer = setTimeout(() => {
      this.waiting.delete(job);
      if (this.closed) return;
      this.queue.push(job);
      this.schedulePump();
    }, delay);
    this.waiting.add(job);
  }

  private oldestWaiting(): Job | undefined {
    const first = this.waiting.values().next();
    if (first.done) return undefined;
    clearTimeout(first.value.timer);
    this.waiting.delete(first.value);
    return first.value;
  }

  private drop(j: Job): void {
    this.logger.warn('notification queue full: dropped oldest delivery', { deliveryId: j.deliveryId, channel: j.channel.name, type: j.notification.type, queueLimit: this.o.queueLimit });
    this.record(j, { outcome: 'dropped', attempt: j.attempt, result: null, retryInMs: null, error: `dropped: notification queue full (${this.o.queueLimit} waiting)` });
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Deferred so dispatch() itself does no delivery work at all.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && this.running < this.o.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.running++;
      void this.attempt(job).finally(() => {
        this.running--;
        this.pump();
        this.wakeIdle();
      });
    }
    this.wakeIdle();
  }

  private async attempt(job: Job): Promise<void> {
    job.attempt++;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]);
    let result: DeliveryResult;
    try {
      result = await job.notifier.deliver(job.notification, signal);
    } catch (e) {
      // Notifiers resolve on HTTP failures; a throw is a bug or bad config: never retried blindly.
      result = { ok: false, status: null, retryable: false, error: `notifier error: ${errorMessage(e)}`, retryAfterMs: null, durationMs: 0 };
    }
    if (this.closed) return;
    if (result.ok) {
      this.record(job, { outcome: 'delivered', attempt: job.attempt, result, retryInMs: null, error: null });
      return;
    }
    if (result.retryable && job.attempt < this.o.maxAttempts) {
      const delay = this.backoff(job.attempt, result.retryAfterMs);
      this.record(job, { outcome: 'retrying', attempt: job.attempt, result, retryInMs: delay, error: result.error });
      this.retryLater(job, delay);
      return;
    }
    const why = result.retryable ? `gave up after ${job.attempt} attempts` : 'not retried (the endpoint rejected it)';
    this.logger.warn('notification delivery failed', { deliveryId: job.deliveryId, channel: job.channel.name, target: channelTarget(job.channel), type: job.notification.type, attempts: job.attempt, status: result.status, error: result.error });
    this.record(job, { outcome: 'failed', attempt: job.attempt, result, retryInMs: null, error: `${result.error ?? 'failed'}; ${why}` });
  }

  /** Exponential from base, capped, with "equal jitter" (spreads retries, keeps a floor). */
  backoff(attempt: number, retryAfterMs: number | null): number {
    const exp = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (attempt - 1));
    const jittered = Math.round(exp / 2 + (this.o.random() * exp) / 2);
    return retryAfterMs === null ? jittered : Math.min(this.o.maxDelayMs, Math.max(jittered, retryAfterMs));
  }

  private record(job: Job, r: { outcome: DeliveryAttempt['outcome']; attempt: number; result: DeliveryResult | null; retryInMs: number | null; error: string | null }): void {
    const now = Date.now();
    const a: DeliveryAttempt = {
      deliveryId: job.deliveryId,
      attempt: r.attempt,
      channel: job.channel.name,
      kind: job.channel.kind,
      target: channelTarget(job.channel),
      notification: job.notification,
      at: new Date(now).toISOString(),
      outcome: r.outcome,
      httpStatus: r.result?.status ?? null,
      error: r.error,
      durationMs: Math.round(r.result?.durationMs ?? 0),
      retryInMs: r.retryInMs,
      nextAttemptAt: r.retryInMs === null ? null : new Date(now + r.retryInMs).toISOString(),
      resendOf: job.resendOf,
    };
    if (r.outcome !== 'retrying') this.live.delete(job.deliveryId);
    this.write(a);
  }

  private write(a: DeliveryAttempt): void {
    const w: Promise<void> = this.log.record(a).catch((e: unknown) => {
      this.logger.error('could not write the notification delivery log', { deliveryId: a.deliveryId, error: errorMessage(e) });
    });
    this.writes.add(w);
    void w.finally(() => {
      this.writes.delete(w);
      this.wakeIdle();
    });
  }

  private isIdle(): boolean {
    return this.closed || (this.queue.length === 0 && this.waiting.size === 0 && this.running === 0 && !this.pumpScheduled);
  }

  private wakeIdle(): void {
    if (!this.isIdle() && this.writes.size === 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }
}
