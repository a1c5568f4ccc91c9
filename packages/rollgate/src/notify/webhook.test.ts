import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { notificationFromEvent } from './notification.js';
import { sampleEvent, startReceiver } from './testkit.js';
import { decodeWebhookSecret, generateWebhookSecret, signWebhook, WebhookNotifier } from './webhook.js';

function hdrs(h: Record<string, string | string[] | undefined>): Record<string, string> {
  return { 'webhook-id': String(h['webhook-id']), 'webhook-timestamp': String(h['webhook-timestamp']), 'webhook-signature': String(h['webhook-signature']) };
}

describe('webhook notifier (Standard Webhooks)', () => {
  test('signature verifies with the standardwebhooks package; a tampered body or another secret fails', async () => {
    const secret = generateWebhookSecret();
    const rx = await startReceiver();
    try {
      const n = notificationFromEvent(sampleEvent(), { baseUrl: 'https://rollgate.example' });
      const r = await new WebhookNotifier({ url: `${rx.url}/hooks`, secret }).deliver(n, AbortSignal.timeout(5_000));
      assert.equal(r.ok, true);
      assert.equal(r.status, 200);
      const [got] = rx.received;
      assert.ok(got);
      assert.equal(got.headers['content-type'], 'application/json');
      assert.equal(got.headers['webhook-id'], 'msg_evt_42');
      assert.match(String(got.headers['webhook-timestamp']), /^\d{10}$/);
      const h = hdrs(got.headers);
      const payload = new Webhook(secret).verify(got.body, h) as { type: string; timestamp: string; data: { app: string; version: string; link: string } };
      assert.equal(payload.type, 'deployment.succeeded');
      assert.equal(payload.data.app, 'web');
      assert.equal(payload.data.version, '1.4.2');
      assert.equal(payload.data.link, 'https://rollgate.example/deployments/dep-1');
      assert.throws(() => new Webhook(secret).verify(got.body.replace('1.4.2', '6.6.6'), h));
      assert.throws(() => new Webhook(generateWebhookSecret()).verify(got.body, h));
      assert.ok(!JSON.stringify(got).includes(secret.slice(6)), 'the secret never travels');
    } finally {
      await rx.close();
    }
  });

  test('signature is v1,base64(HMAC-SHA256(key, id.timestamp.body)) and matches the reference signer', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const wh = new Webhook(secret);
    const body = '{"test": 2432232314}';
    assert.equal(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body), wh.sign('msg_p5jXN8AQM9LWM0D4loKWxJek', new Date(1614265330_000), body));
    // The spec's own example.
    assert.equal(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body), 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  test('bad secrets are refused with a message that says how to make one', () => {
    assert.throws(() => decodeWebhookSecret('hunter2'), /must start with "whsec_".*randomBytes/);
    assert.throws(() => decodeWebhookSecret('whsec_not base64!'), /not valid base64/);
    assert.throws(() => decodeWebhookSecret('whsec_' + Buffer.alloc(8).toString('base64')), /8 bytes/);
    assert.equal(decodeWebhookSecret(generateWebhookSecret()).length, 32);
  });
});
