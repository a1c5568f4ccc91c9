// The report schema and per-(flag, variant) counters: new agents' flagMetrics parse, old
// agents' reports without it still parse, and a broken flagMetrics is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceObservedSchema } from './dataplane-schema.js';

const metrics = { requests: 3, byClass: { '2xx': 2, '5xx': 1 }, upstreamErrors: 0, cutShort: 0, retries: 0, latency: { boundsMs: [1], counts: [1, 3], sumMs: 4, count: 3 } };
const old = { env: 'staging', app: 'shop', listenPort: 8080, versions: [], routes: null, metrics: { v1: metrics }, observedAt: '2026-12-03T00:00:00.000Z' };

test('a report without flagMetrics (an older agent) parses; flagMetrics is undefined', () => {
  const r = ServiceObservedSchema.parse(old);
  assert.equal(r.flagMetrics, undefined);
});

test('a report with flagMetrics parses, names with any characters kept as keys of no object', () => {
  const flagMetrics = { pairs: [{ flag: '__proto__', variant: 'a,b=c', metrics }], droppedPairs: 2, malformed: 1, appDropped: 0, maxPairs: 256 };
  const r = ServiceObservedSchema.parse({ ...old, flagMetrics });
  assert.deepEqual(r.flagMetrics, flagMetrics);
});

test('a flagMetrics without its counts is refused', () => {
  assert.equal(ServiceObservedSchema.safeParse({ ...old, flagMetrics: { pairs: [] } }).success, false);
  assert.equal(ServiceObservedSchema.safeParse({ ...old, flagMetrics: { pairs: [{ flag: 'f', variant: 'v' }], droppedPairs: 0, malformed: 0, appDropped: 0, maxPairs: 256 } }).success, false);
});
