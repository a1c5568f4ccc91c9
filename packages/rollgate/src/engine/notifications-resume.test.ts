/**
 * Deliveries still retrying when the server stops go on after it starts: the delivery log is in
 * the store (a real SQLite file here), and a second dispatcher / Notifications instance on the
 * reopened store stands for the restarted server. The endpoints are real local HTTP servers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import type { ChannelConfig } from '../notify/channel.js';
import type { DeliveryAttempt } from '../notify/delivery-log.js';
import { NotificationDispatcher } from '../notify/dispatcher.js';
import { notificationFromEvent } from '../notify/notification.js';
import { StoreDeliveryLog } from '../notify/store-delivery-log.js';
import { memoryLogger, sampleEvent, startReceiver, withTimeout } from '../notify/testkit.js';
import { generateWebhookSecret } from '../notify/webhook.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { EventBus } from './events.js';
import { Notifications } from './notifications.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-notify-resume-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});


/** Polls until `check` holds (bounded). */
async function until(check: () => Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A delivery's attempts, oldest first, as [attempt, outcome, httpStatus]. */
async function history(store: Store, deliveryId: string): Promise<Array<[number, string, number | null]>> {
  return (await store.listDeliveries({ deliveryId })).reverse().map((a) => [a.attempt, a.outcome, a.httpStatus]);
}

describe('pending notification deliveries survive a restart', () => {
  test('Notifications: a webhook that failed before the stop is delivered after the start, same delivery and webhook-id, attempt 2', async () => {
    const dataDir = join(work, 'engine');
    const secret = generateWebhookSecret();
    const env = { ROLLGATE_TEST_RESUME_SECRET: secret };
    const rx = await startReceiver((_r, i) => (i === 0 ? 503 : 200));
    // A backoff long enough that the first server stops before it retries.
    const opts = { dispatcher: { baseDelayMs: 800, maxDelayMs: 800, random: () => 1 } };
    const channels = [{ name: 'ops', kind: 'webhook' as const, url: `${rx.url}/hook`, secretEnv: 'ROLLGATE_TEST_RESUME_SECRET', events: ['deployment.*'] }];

    let store = await openStore({ dataDir });
    const bus = new EventBus(store);
    let first: Notifications | null = new Notifications(store, bus, memoryLogger(), env, opts);
    let second: Notifications | null = null;
    try {
      await first.load();
      await first.apply(channels);
      await bus.emit({ type: 'deployment.finished', app: 'web', env: 'production', deploymentId: 'dep-1', data: { status: 'succeeded', version: '1.4.2' } });
      await until(async () => (await store.listDeliveries({ channel: 'ops', outcome: 'retrying' })).length === 1, 'first attempt logged as retrying');
      const [pending] = await store.listDeliveries({ channel: 'ops' });
      assert.ok(pending);
      assert.equal(pending.outcome, 'retrying');
      assert.ok(pending.nextAttemptAt);

      // The server stops before the retry is due, then starts again on the same data directory.
      await first.close();
      first = null;
      await store.close();
      assert.equal(rx.received.length, 1);

      store = await openStore({ dataDir });
      second = new Notifications(store, new EventBus(store), memoryLogger(), env, opts);
      await second.load();
      await withTimeout(second.dispatcher.idle(), 10_000, 'resumed delivery');

      assert.equal(rx.received.length, 2);
      assert.deepEqual(await history(store, pending.deliveryId), [
        [1, 'retrying', 503],
        [2, 'delivered', 200],
      ]);
      // Receivers deduplicate on webhook-id: the retry is recognisably the same message, freshly signed.
      assert.equal(rx.received[1]?.headers['webhook-id'], rx.received[0]?.headers['webhook-id']);
      for (const r of rx.received) {
        new Webhook(secret).verify(r.body, {
          'webhook-id': String(r.headers['webhook-id']),
          'webhook-timestamp': String(r.headers['webhook-timestamp']),
          'webhook-signature': String(r.headers['webhook-signature']),
        });
      }
      // The log the API lists is the store's.
      assert.equal((await second.deliveries({ deliveryId: pending.deliveryId }))[0]?.outcome, 'delivered');
      assert.equal(await second.dispatcher.resumePending(), 0, 'nothing is left to resume');
    } finally {
      await first?.close();
      await second?.close();
      await store.close();
      await rx.close();
    }
  });

  test('Notifications: when the channels cannot be set up at start, pending deliveries wait for the next apply', async () => {
    const dataDir = join(work, 'unresolved');
    const secret = generateWebhookSecret();
    const rx = await startReceiver((_r, i) => (i === 0 ? 503 : 200));
    const opts = { dispatcher: { baseDelayMs: 800, maxDelayMs: 800, random: () => 1 } };
    const channels = [{ name: 'ops', kind: 'webhook' as const, url: `${rx.url}/hook`, secretEnv: 'ROLLGATE_TEST_RESUME_SECRET', events: ['deployment.*'] }];
    const env: NodeJS.ProcessEnv = { ROLLGATE_TEST_RESUME_SECRET: secret };
    let store = await openStore({ dataDir });
    let first: Notifications | null = new Notifications(store, new EventBus(store), memoryLogger(), env, opts);
    let second: Notifications | null = null;
    try {
      await first.apply(channels);
      first.dispatcher.dispatchEvent(sampleEvent());
      await until(async () => (await store.listDeliveries({ outcome: 'retrying' })).length === 1, 'first attempt logged as retrying');
      await first.close();
      first = null;
      await store.close();

      // Restarted without the secret's variable: the channel cannot be built; nothing is dropped.
      delete env.ROLLGATE_TEST_RESUME_SECRET;
      store = await openStore({ dataDir });
      const logger = memoryLogger();
      second = new Notifications(store, new EventBus(store), logger, env, opts);
      await second.load();
      assert.ok(logger.lines.some((l) => l.includes('notification channels could not be set up at start')));
      const [pending] = await store.listDeliveries({});
      assert.equal(pending?.outcome, 'retrying', 'still pending, not dropped');
      assert.ok(!logger.lines.join('\n').includes(secret));

      // The variable is set and the spec applied again: the delivery goes on.
      env.ROLLGATE_TEST_RESUME_SECRET = secret;
      await second.apply(channels);
      await withTimeout(second.dispatcher.idle(), 10_000, 'resumed delivery');
      assert.deepEqual(await history(store, pending.deliveryId), [
        [1, 'retrying', 503],
        [2, 'delivered', 200],
      ]);
      assert.equal(rx.received.length, 2);
    } finally {
      await first?.close();
      await second?.close();
      await store.close();
      await rx.close();
    }
  });

  test('dispatcher: resumes only what is still retrying, on channels that exist; later when not yet due, at once when past', async () => {
    const dataDir = join(work, 'dispatcher');
    const keepRx = await startReceiver((_r, i) => (i === 0 ? 503 : 200));
    const goneRx = await startReceiver(() => 503);
    const keep: ChannelConfig = { name: 'keep', kind: 'slack', url: `${keepRx.url}/s`, events: ['*'] };
    const gone: ChannelConfig = { name: 'gone', kind: 'slack', url: `${goneRx.url}/s`, events: ['*'] };
    let store = await openStore({ dataDir });
    let first: NotificationDispatcher | null = new NotificationDispatcher({ log: new StoreDeliveryLog(store), channels: [keep, gone], baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 1 });
    let second: NotificationDispatcher | null = null;
    try {
      const [kept, dropped] = first.dispatchEvent(sampleEvent({ id: 1 }));
      assert.ok(kept && dropped);
      await until(async () => (await store.listDeliveries({ outcome: 'retrying' })).length === 2, 'both first attempts logged');
      await first.close();
      first = null;

      // Entries another server wrote: one retried and then delivered (superseded), one overdue,
      // one that already used every attempt.
      const at = (ms: number) => new Date(Date.now() + ms).toISOString();
      const entry = (over: Partial<DeliveryAttempt>): DeliveryAttempt => ({
        deliveryId: 'dlv_x',
        attempt: 1,
        channel: 'keep',
        kind: 'slack',
        target: 'http://127.0.0.1/***',
        notification: notificationFromEvent(sampleEvent({ id: 2 })),
        at: at(-60_000),
        outcome: 'retrying',
        httpStatus: 503,
        error: 'HTTP 503',
        durationMs: 3,
        retryInMs: 1_000,
        nextAttemptAt: at(-59_000),
        resendOf: null,
        ...over,
      });
      await store.recordDelivery(entry({ deliveryId: 'dlv_superseded' }));
      await store.recordDelivery(entry({ deliveryId: 'dlv_superseded', attempt: 2, outcome: 'delivered', httpStatus: 200, error: null, retryInMs: null, nextAttemptAt: null }));
      await store.recordDelivery(entry({ deliveryId: 'dlv_overdue', attempt: 2, resendOf: 'dlv_original', notification: notificationFromEvent(sampleEvent({ id: 3 })) }));
      await store.recordDelivery(entry({ deliveryId: 'dlv_exhausted', attempt: 5 }));
      await store.close();

      store = await openStore({ dataDir });
      const logger = memoryLogger();
      second = new NotificationDispatcher({ log: new StoreDeliveryLog(store), channels: [keep], logger, maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 100 });
      assert.equal(await second.resumePending(), 2, 'the kept delivery and the overdue one');
      // Not yet due: parked until its time (capped by this server's longest backoff); overdue: queued now.
      assert.deepEqual(second.stats(), { queued: 1, waiting: 1, running: 0 });
      assert.equal(await second.resumePending(), 0, 'a second call does not schedule them twice');
      await withTimeout(second.idle(), 10_000, 'resumed deliveries');

      assert.deepEqual(await history(store, kept), [
        [1, 'retrying', 503],
        [2, 'delivered', 200],
      ]);
      const [goneLast] = await store.listDeliveries({ deliveryId: dropped });
      assert.deepEqual([goneLast?.attempt, goneLast?.outcome], [1, 'dropped']);
      assert.match(goneLast?.error ?? '', /channel "gone" no longer exists/);
      assert.equal(goneRx.received.length, 1, 'nothing more went to the removed channel');
      assert.ok(logger.lines.some((l) => l.includes('its channel is gone')));

      assert.deepEqual(await history(store, 'dlv_superseded'), [
        [1, 'retrying', 503],
        [2, 'delivered', 200],
      ]);
      const [overdue] = await store.listDeliveries({ deliveryId: 'dlv_overdue' });
      assert.deepEqual([overdue?.attempt, overdue?.outcome, overdue?.resendOf, overdue?.notification.id], [3, 'delivered', 'dlv_original', 'evt_3']);
      const [exhausted] = await store.listDeliveries({ deliveryId: 'dlv_exhausted' });
      assert.deepEqual([exhausted?.attempt, exhausted?.outcome], [5, 'failed']);
      assert.match(exhausted?.error ?? '', /gave up after 5 attempts/);
      // The first server's failed attempt, the kept retry and the overdue one.
      assert.equal(keepRx.received.length, 3);

      const third = new NotificationDispatcher({ log: new StoreDeliveryLog(store), channels: [keep] });
      try {
        assert.equal(await third.resumePending(), 0, 'nothing left after a further restart');
      } finally {
        await third.close();
      }
    } finally {
      await first?.close();
      await second?.close();
      await store.close();
      await keepRx.close();
      await goneRx.close();
    }
  });
});
