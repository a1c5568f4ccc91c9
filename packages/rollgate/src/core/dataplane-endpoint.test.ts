// Instance endpoints in the agent's report: optional, so an older agent's instances still parse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstanceObservedSchema } from './dataplane-schema.js';

const old = { id: 'shop-staging-v1-1', version: 'v1', port: 41000, pid: 123, state: 'ready', restarts: 0, startedAt: '2026-12-04T00:00:00.000Z', readyAt: null, lastError: null, inFlight: 0 };

test('an instance without an endpoint (an older agent) parses; endpoint is undefined', () => {
  assert.equal(InstanceObservedSchema.parse(old).endpoint, undefined);
});

test('an endpoint is host:port; anything else is refused', () => {
  assert.equal(InstanceObservedSchema.parse({ ...old, endpoint: '127.0.0.1:41000' }).endpoint, '127.0.0.1:41000');
  for (const bad of ['127.0.0.1', ':41000', '127.0.0.1:port', 'a b:1']) assert.equal(InstanceObservedSchema.safeParse({ ...old, endpoint: bad }).success, false, bad);
});
