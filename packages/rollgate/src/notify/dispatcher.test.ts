import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { parseChannels, channelWants, type ChannelConfig } from './channel.js';
import { NotificationDispatcher } from './dispatcher.js';
import { notificationFromEvent } from './notification.js';
import { memoryLogger, sampleEvent, startReceiver, withTimeout, type Receiver } from './testkit.js';
import { generateWebhookSecret } from './webhook.js';

const fast = { baseDelayMs: 20, maxDelayMs: 200, timeoutMs: 2_000 };

function webhook(rx: Receiver, secret: string, over: Partial<ChannelConfig> = {}): ChannelConfig {
  return { name: 'hooks', kind: 'webhook', url: `${rx.url}/in?token=tok123`, secret, events: ['deployment.*'], ...over };
}


describe('notification dispatcher', () => {
  test('channel schema: webhook needs a whsec_ secret; errors never echo it; duplicate names refused', () => {
    assert.throws(() => parseChannels([{ name: 'a', kind: 'webhook', url: 'http://x.test/', events: ['*'] }]), /secret: a webhook channel needs a signing secret/);
    assert.throws(() => parseChannels([{ name: 'a', kind: 'webhook', url: 'http://x.test/', secret: 'hunter2secret', events: ['*'] }]), (e: Error) => /whsec_/.test(e.message) && !e.message.includes('hunter2secret'));
    assert.throws(() => parseChannels([{ name: 'a', kind: 'slack', url: 'ftp://x.test/', events: ['*'] }]), /url must be an http\(s\) URL/);
    assert.throws(() => parseChannels([{ name: 'a', kind: 'slack', url: 'http://x.test/', events: [] }]), /events: list at least one/);
    const ok = { name: 'a', kind: 'slack', url: 'http://x.test/', events: ['*'] };
    assert.throws(() => parseChannels([ok, ok]), /declared twice/);
    assert.equal(parseChannels([ok]).length, 1);
  });

  test('subscriptions filter by event type glob, app and environment', () => {
    const n = (type: string, app: string, env: string, data: Record<string, unknown> = { status: 'succeeded', version: '1' }) => notificationFromEvent(sampleEvent({ type, app, env, data }));
    const ch = { kind: 'webhook' as const, events: ['deployment.*', 'incident.opened'], apps: ['web', 'api-*'], envs: ['production'] };
    assert.equal(channelWants(ch, n('deployment.finished', 'web', 'production')), true);
    assert.equal(channelWants(ch, n('deployment.finished', 'api-eu', 'production')), true);
    assert.equal(channelWants(ch, n('deployment.finished', 'worker', 'production')), false);
    assert.equal(channelWants(ch, n('deployment.finished', 'web', 'staging')), false);
    assert.equal(channelWants(ch, n('incident.opened', 'web', 'production', { id: 'i' })), true);
    assert.equal(channelWants(ch, n('incident.resolved', 'web', 'production', { id: 'i' })), false);
    // Normalised and raw types both match: rolled_back is a deployment.finished.
    const rb = n('deployment.finished', 'web', 'production', { status: 'rolled_back', version: '2' });
    assert.equal(rb.type, 'deployment.rolled_back');
    assert.equal(channelWants({ kind: 'slack', events: ['deployment.rolled_back'] }, rb), true);
    assert.equal(channelWants({ kind: 'slack', events: ['deployment.finished'] }, rb), true);
    assert.equal(channelWants({ kind: 'slack', events: ['deployment.succeeded'] }, rb), false);
  });

  test('dispatch only goes to subscribed channels, through the bus', async () => {
    const a = await startReceiver();
    const b = await startReceiver();
    const d = new NotificationDispatcher({
      ...fast,
      channels: [
        { name: 'prod', kind: 'slack', url: `${a.url}/s`, events: ['deployment.succeeded'], envs: ['production'] },
        { name: 'incidents', kind: 'slack', url: `${b.url}/s`, events: ['incident.*'] },
      ],
    });
    try {
      const listeners: Array<(e: ReturnType<typeof sampleEvent>) => void> = [];
      d.attach({ subscribe: (l) => (listeners.push(l), () => undefined) });
      for (const e of [sampleEvent({ id: 1 }), sampleEvent({ id: 2, env: 'staging' }), sampleEvent({ id: 3, type: 'incident.opened', data: { id: 'i1', title: 't' } })]) for (const l of listeners) l(e);
      await withTimeout(d.idle(), 5_000, 'idle');
      assert.equal(a.received.length, 1);
      assert.equal(b.received.length, 1);
      assert.match(a.received[0]?.body ?? '', /deployed to production/);
    } finally {
      await d.close();
      await a.close();
      await b.close();
    }
  });

  test('retries with exponential backoff (5xx, 429) until delivered; same webhook-id each time, fresh valid signature', async () => {
    const secret = generateWebhookSecret();
    const rx = await startReceiver((_r, i) => (i === 0 ? 503 : i === 1 ? 429 : 200));
    const d = new NotificationDispatcher({ ...fast, maxAttempts: 5, channels: [webhook(rx, secret)] });
    try {
      const [id] = d.dispatchEvent(sampleEvent());
      assert.ok(id);
      await withTimeout(d.idle(), 5_000, 'idle');
      assert.equal(rx.received.length, 3);
      assert.equal(new Set(rx.received.map((r) => r.headers['webhook-id'])).size, 1);
      for (const r of rx.received) new Webhook(secret).verify(r.body, { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });
      const log = (await d.log.list({ deliveryId: id })).reverse();
      assert.deepEqual(log.map((a) => [a.attempt, a.outcome, a.httpStatus]), [[1, 'retrying', 503], [2, 'retrying', 429], [3, 'delivered', 200]]);
      // Backoff doubles from the base, jittered to [½, 1]×.
      const [r1, r2] = [log[0]?.retryInMs ?? -1, log[1]?.retryInMs ?? -1];
      assert.ok(r1 >= 10 && r1 <= 20, `first backoff ${r1}`);
      assert.ok(r2 >= 20 && r2 <= 40, `second backoff ${r2}`);
    } finally {
      await d.close();
      await rx.close();
    }
  });

  test('backoff is bounded and honours Retry-After', () => {
    const d = new NotificationDispatcher({ baseDelayMs: 1_000, maxDelayMs: 30_000, random: () => 1 });
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((k) => d.backoff(k, null)), [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    assert.equal(d.backoff(1, 12_000), 12_000);
    assert.equal(d.backoff(1, 999_000), 30_000);
    void d.close();
  });

  test('gives up at once on 400 (and after maxAttempts on 5xx), logs a warning without secrets', async () => {
    const secret = generateWebhookSecret();
    const bad = await startReceiver(() => 400);
    const down = await startReceiver(() => 500);
    const logger = memoryLogger();
    const d = new NotificationDispatcher({ ...fast, maxAttempts: 3, logger, channels: [webhook(bad, secret), webhook(down, secret, { name: 'down' })] });
    try {
      const [a, b] = d.dispatchEvent(sampleEvent());
      await withTimeout(d.idle(), 5_000, 'idle');
      assert.equal(bad.received.length, 1);
      assert.equal(down.received.length, 3);
      const [la] = await d.log.list({ deliveryId: a });
      assert.equal(la?.outcome, 'failed');
      assert.equal(la?.httpStatus, 400);
      assert.match(la?.error ?? '', /HTTP 400; not retried/);
      const [lb] = await d.log.list({ deliveryId: b });
      assert.match(lb?.error ?? '', /HTTP 500; gave up after 3 attempts/);
      assert.equal(logger.lines.filter((l) => l.includes('notification delivery failed')).length, 2);
      const all = JSON.stringify(await d.log.list()) + logger.lines.join('\n');
      assert.ok(!all.includes(secret) && !all.includes(secret.slice(6)), 'secret leaked');
      assert.ok(!all.includes('tok123'), 'URL query (token) leaked');
      assert.match(la?.target ?? '', /^http:\/\/127\.0\.0\.1:\d+\/in\?\*\*\*$/);
    } finally {
      await d.close();
      await bad.close();
      await down.close();
    }
  });

  test('an endpoint that never answers does not block dispatch (it returns before any attempt) and is timed out', async () => {
    const rx = await startReceiver(() => 'hang');
    const d = new NotificationDispatcher({ ...fast, timeoutMs: 300, maxAttempts: 2, channels: [{ name: 'slow', kind: 'slack', url: `${rx.url}/services/T/B/secretpath`, events: ['*'] }] });
    try {
      const ids = d.dispatchEvent(sampleEvent());
      // dispatch is synchronous and did no delivery work: nothing sent, nothing logged yet.
      assert.equal(ids.length, 1);
      assert.equal(rx.received.length, 0);
      assert.deepEqual(d.stats(), { queued: 1, waiting: 0, running: 0 });
      await withTimeout(d.idle(), 5_000, 'idle');
      assert.equal(rx.received.length, 2);
      const log = (await d.log.list({ deliveryId: ids[0] })).reverse();
      assert.deepEqual(log.map((a) => a.outcome), ['retrying', 'failed']);
      assert.match(log[1]?.error ?? '', /timed out/);
      assert.ok(!JSON.stringify(log).includes('secretpath'), 'Slack URL path (a credential) leaked');
      assert.match(log[0]?.target ?? '', /^http:\/\/127\.0\.0\.1:\d+\/\*\*\*$/);
    } finally {
      await d.close();
      await rx.close();
    }
  });

  test('resend delivers a logged delivery again as a new delivery; unknown ids are refused', async () => {
    const secret = generateWebhookSecret();
    let answer = 400;
    const rx = await startReceiver(() => answer);
    const d = new NotificationDispatcher({ ...fast, channels: [webhook(rx, secret)] });
    try {
      const [id] = d.dispatchEvent(sampleEvent());
      assert.ok(id);
      await withTimeout(d.idle(), 5_000, 'idle');
      assert.equal((await d.log.list({ deliveryId: id }))[0]?.outcome, 'failed');
      answer = 200;
      const again = await d.resend(id);
      assert.notEqual(again, id);
      await withTimeout(d.idle(), 5_000, 'idle');
      const [l] = await d.log.list({ deliveryId: again });
      assert.equal(l?.outcome, 'delivered');
      assert.equal(l?.resendOf, id);
      assert.equal(rx.received.length, 2);
      assert.equal(rx.received[0]?.headers['webhook-id'], rx.received[1]?.headers['webhook-id']);
      await assert.rejects(d.resend('dlv_nope'), /no delivery dlv_nope/);
    } finally {
      await d.close();
      await rx.close();
    }
  });

  test('the queue is bounded: when full the oldest delivery is dropped with a warning', async () => {
    const rx = await startReceiver();
    const logger = memoryLogger();
    const d = new NotificationDispatcher({ ...fast, concurrency: 1, queueLimit: 2, logger, channels: [{ name: 'c', kind: 'slack', url: `${rx.url}/s`, events: ['*'] }] });
    try {
      const ids = [1, 2, 3, 4, 5].flatMap((i) => d.dispatchEvent(sampleEvent({ id: i })));
      assert.equal(ids.length, 5);
      assert.equal(d.stats().queued, 2);
      await withTimeout(d.idle(), 5_000, 'idle');
      const dropped = await d.log.list({ outcome: 'dropped' });
      assert.deepEqual(dropped.map((a) => a.notification.id).sort(), ['evt_1', 'evt_2', 'evt_3']);
      const delivered = await d.log.list({ outcome: 'delivered' });
      assert.deepEqual(delivered.map((a) => a.notification.id).sort(), ['evt_4', 'evt_5']);
      assert.equal(rx.received.length, 2);
      assert.equal(logger.lines.filter((l) => l.includes('queue full')).length, 3);
    } finally {
      await d.close();
      await rx.close();
    }
  });

  test('close() aborts attempts in flight and frees the endpoint', async () => {
    const rx = await startReceiver(() => 'hang');
    const d = new NotificationDispatcher({ ...fast, timeoutMs: 60_000, channels: [{ name: 'c', kind: 'slack', url: `${rx.url}/s`, events: ['*'] }] });
    try {
      d.dispatchEvent(sampleEvent());
      await rx.waitFor(1);
      await withTimeout(d.close(), 3_000, 'close');
      await withTimeout(d.idle(), 1_000, 'idle after close');
      assert.deepEqual(d.dispatchEvent(sampleEvent()), []);
    } finally {
      await d.close();
      await rx.close();
    }
  });
});
