import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CDEVENT_TYPES, CDEventsNotifier, cloudEventHeaders, toCDEvent, type CDEvent } from './cdevents.js';
import { channelWants } from './channel.js';
import { notificationFromEvent } from './notification.js';
import { sampleEvent, startReceiver } from './testkit.js';
import { validateCDEvent as validate } from './cdevents-schema.testkit.js';

const cases: Array<{ name: string; event: ReturnType<typeof sampleEvent>; type: string; check?: (ev: CDEvent) => void }> = [
  { name: 'deployment succeeded', event: sampleEvent(), type: 'dev.cdevents.service.deployed.0.3.0', check: (ev) => assert.deepEqual(ev.subject.content, { environment: { id: 'production' }, artifactId: 'pkg:generic/web@1.4.2' }) },
  {
    name: 'deployment rolled back',
    event: sampleEvent({ data: { status: 'rolled_back', version: '1.5.0', previousVersion: '1.4.2', reason: 'error rate 12% > 5%' } }),
    type: 'dev.cdevents.service.rolledback.0.3.0',
    check: (ev) => assert.equal(ev.subject.content.artifactId, 'pkg:generic/web@1.4.2'),
  },
  { name: 'rollback deployment succeeded', event: sampleEvent({ data: { status: 'succeeded', version: '1.4.2', kind: 'rollback' } }), type: 'dev.cdevents.service.rolledback.0.3.0' },
  {
    name: 'incident opened',
    event: sampleEvent({ type: 'incident.opened', data: { id: 'inc-7', source: 'rollback', title: 'web 1.5.0 rolled back', severity: 'high' } }),
    type: 'dev.cdevents.incident.detected.0.3.0',
    check: (ev) => {
      assert.equal(ev.subject.id, 'inc-7');
      assert.equal(ev.subject.content.description, 'web 1.5.0 rolled back');
    },
  },
  { name: 'incident resolved', event: sampleEvent({ type: 'incident.resolved', deploymentId: null, data: { id: 'inc-7', title: 'x', durationMs: 1000 } }), type: 'dev.cdevents.incident.resolved.0.3.0' },
  { name: 'pipeline queued', event: sampleEvent({ type: 'pipeline.queued', env: null, deploymentId: null, data: { runId: 'run-1', pipeline: 'web-release' } }), type: 'dev.cdevents.pipelinerun.queued.0.3.0' },
  { name: 'pipeline started', event: sampleEvent({ type: 'pipeline.started', env: null, deploymentId: null, data: { runId: 'run-1', pipeline: 'web-release' } }), type: 'dev.cdevents.pipelinerun.started.0.3.0' },
  {
    name: 'pipeline finished (failed)',
    event: sampleEvent({ type: 'pipeline.finished', env: null, deploymentId: null, data: { runId: 'run-1', pipeline: 'web-release', status: 'failed', error: 'gate junit: 3 failures' } }),
    type: 'dev.cdevents.pipelinerun.finished.0.3.0',
    check: (ev) => {
      assert.equal(ev.subject.content.outcome, 'failure');
      assert.equal(ev.subject.content.errors, 'gate junit: 3 failures');
    },
  },
];

describe('CDEvents notifier (v0.5.1, CloudEvents binary mode)', () => {
  for (const c of cases) {
    test(`${c.name} → ${c.type}, valid against the spec's JSON schema (with and without a dashboard URL)`, () => {
      for (const baseUrl of [undefined, 'https://rollgate.example']) {
        const ev = toCDEvent(notificationFromEvent(c.event, { baseUrl }), { source: baseUrl ?? '/rollgate' });
        assert.ok(ev);
        assert.equal(ev.context.type, c.type);
        assert.equal(ev.context.specversion, '0.5.1');
        validate(ev);
        c.check?.(ev);
      }
    });
  }

  test('the schemas catch a wrong event (the check can fail)', () => {
    const ev = toCDEvent(notificationFromEvent(sampleEvent()));
    assert.ok(ev);
    const bad = { ...ev, subject: { ...ev.subject, content: { environment: { id: 'production' } } } };
    assert.throws(() => validate(bad), /fails its schema/);
  });

  test('events CDEvents cannot express are not sent to a CDEvents channel', () => {
    const ch = { kind: 'cdevents' as const, events: ['*'] };
    assert.equal(toCDEvent(notificationFromEvent(sampleEvent({ type: 'traffic.changed', data: {} }))), null);
    assert.equal(channelWants(ch, notificationFromEvent(sampleEvent({ type: 'traffic.changed', data: {} }))), false);
    assert.equal(channelWants(ch, notificationFromEvent(sampleEvent({ data: { status: 'failed', version: '1' } }))), false);
    assert.equal(channelWants(ch, notificationFromEvent(sampleEvent())), true);
  });

  test('delivered over HTTP in binary mode: ce-* headers carry the context, the body is the CDEvent', async () => {
    const rx = await startReceiver(() => 202);
    try {
      const n = notificationFromEvent(sampleEvent());
      const r = await new CDEventsNotifier({ url: `${rx.url}/events`, source: 'https://rollgate.example' }).deliver(n, AbortSignal.timeout(5_000));
      assert.equal(r.ok, true);
      const [got] = rx.received;
      assert.ok(got);
      const body = JSON.parse(got.body) as CDEvent;
      validate(body);
      assert.equal(got.headers['ce-specversion'], '1.0');
      assert.equal(got.headers['ce-id'], body.context.id);
      assert.equal(got.headers['ce-source'], 'https://rollgate.example');
      assert.equal(got.headers['ce-type'], 'dev.cdevents.service.deployed.0.3.0');
      assert.equal(got.headers['ce-time'], '2025-01-02T03:04:05.000Z');
      assert.equal(got.headers['content-type'], 'application/json');
      assert.deepEqual(cloudEventHeaders(body)['ce-subject'], 'service/web');
    } finally {
      await rx.close();
    }
  });
});
