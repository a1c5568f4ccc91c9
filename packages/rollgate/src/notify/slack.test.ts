import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { notificationFromEvent } from './notification.js';
import { SlackNotifier, slackMessage, type SlackMessage } from './slack.js';
import { sampleEvent, startReceiver } from './testkit.js';

describe('Slack notifier', () => {
  test('pipeline messages say which run, what it waits for, who approved, and why it failed', () => {
    const msg = (type: string, data: Record<string, unknown>) => slackMessage(notificationFromEvent(sampleEvent({ type, env: null, deploymentId: null, data: { runId: 'run-7', pipeline: 'shop', ...data } }))).text;
    assert.match(msg('pipeline.finished', { status: 'failed', version: '1.5.0', error: 'stage "junit" failed: 2 of 40 tests failed' }), /Pipeline shop run run-7 failed \(release 1\.5\.0\): stage "junit" failed: 2 of 40 tests failed/);
    assert.match(msg('pipeline.stage.waiting', { stage: 'sign-off', message: 'waiting for 1 approval from release-manager' }), /Pipeline shop run run-7 waits at sign-off: waiting for 1 approval from release-manager/);
    assert.match(msg('pipeline.approved', { stage: 'sign-off', actor: 'ana', reason: 'ok' }), /Pipeline shop run run-7: sign-off approved by ana: ok/);
  });

  test('posts text + blocks with app, version, environment, outcome and link (local stand-in server: Slack itself is third-party and unreachable here)', async () => {
    const rx = await startReceiver();
    try {
      const n = notificationFromEvent(sampleEvent({ data: { status: 'rolled_back', version: '1.5.0', previousVersion: '1.4.2', reason: 'p99 latency 900ms > 500ms' } }), { baseUrl: 'https://rollgate.example/' });
      const r = await new SlackNotifier({ url: `${rx.url}/services/T000/B000/XXXX` }).deliver(n, AbortSignal.timeout(5_000));
      assert.equal(r.ok, true);
      const [got] = rx.received;
      assert.ok(got);
      assert.equal(got.path, '/services/T000/B000/XXXX');
      assert.equal(got.headers['content-type'], 'application/json');
      const msg = JSON.parse(got.body) as SlackMessage;
      assert.match(msg.text, /^:rewind: web 1\.5\.0 rolled back in production \(1\.4\.2 serves again\): p99 latency 900ms &gt; 500ms <https:\/\/rollgate\.example\/deployments\/dep-1\|details>$/);
      const types = msg.blocks.map((b) => b.type);
      assert.deepEqual(types, ['section', 'section', 'actions', 'context']);
      const fields = (msg.blocks[1] as { fields: Array<{ text: string }> }).fields.map((f) => f.text);
      assert.deepEqual(fields, ['*App*\nweb', '*Version*\n1.5.0', '*Environment*\nproduction', '*Outcome*\nrolled back', '*Serving now*\n1.4.2']);
      const button = (msg.blocks[2] as { elements: Array<{ type: string; url: string }> }).elements[0];
      assert.deepEqual(button && { type: button.type, url: button.url }, { type: 'button', url: 'https://rollgate.example/deployments/dep-1' });
    } finally {
      await rx.close();
    }
  });

  test('escapes Slack control characters and leaves out what is unknown', () => {
    const n = notificationFromEvent(sampleEvent({ type: 'incident.opened', data: { id: 'inc-1', title: '<!channel> & panic' } }));
    const msg = slackMessage(n);
    assert.ok(!msg.text.includes('<!channel>'));
    assert.match(msg.text, /&lt;!channel&gt; &amp; panic/);
    assert.deepEqual(msg.blocks.map((b) => b.type), ['section', 'section', 'context'], 'no link button without a dashboard URL');
    const fields = (msg.blocks[1] as { fields: Array<{ text: string }> }).fields.map((f) => f.text.split('\n')[0]);
    assert.deepEqual(fields, ['*App*', '*Environment*', '*Outcome*'], 'no version for an incident');
  });
});
