import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OutlierDetector, type OutlierSubject } from './outlier.js';
import { escapeLabelValue } from './prometheus.js';
import { VersionCounters } from './metrics.js';

function subject(id: string): OutlierSubject {
  return { id, consecutiveFailures: 0, ejected: false, probation: false, ejections: 0, lastEjectionEnd: 0, readmitTimer: null };
}

const allow = { canEject: () => true };

describe('OutlierDetector', () => {
  test('ejects after N consecutive failures; a success resets the count', () => {
    const events: string[] = [];
    const d = new OutlierDetector({ ejectAfterFailures: 3, baseEjectionMs: 10_000, maxEjectionMs: 60_000, onBackendState: (id, e, why) => events.push(`${id} ${e} ${why}`) });
    const b = subject('b');
    d.onFailure(b, allow, 'x');
    d.onFailure(b, allow, 'x');
    d.onSuccess(b);
    d.onFailure(b, allow, 'x');
    d.onFailure(b, allow, 'x');
    assert.equal(b.ejected, false);
    const epoch = d.epoch;
    d.onFailure(b, allow, 'HTTP 503');
    assert.equal(b.ejected, true);
    assert.ok(d.epoch > epoch);
    assert.match(events[0] ?? '', /^b true 3 consecutive failures \(last: HTTP 503\); ejected for 10000 ms$/);
    d.forget(b);
  });

  test('doubles the ejection on a failure during probation, and never ejects when the guard refuses', async () => {
    const events: string[] = [];
    const d = new OutlierDetector({ ejectAfterFailures: 1, baseEjectionMs: 20, maxEjectionMs: 60_000, onBackendState: (_id, e, why) => events.push(`${e} ${why}`) });
    const b = subject('b');
    d.onFailure(b, allow, 'x');
    assert.match(events[0] ?? '', /ejected for 20 ms/);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(b.ejected, false);
    assert.equal(b.probation, true);
    assert.match(events[1] ?? '', /^false readmitted on probation/);
    d.onFailure(b, allow, 'y');
    assert.match(events[2] ?? '', /failed on probation \(y\); ejected for 40 ms/);
    d.forget(b);

    const last = subject('last');
    for (let i = 0; i < 10; i++) d.onFailure(last, { canEject: () => false }, 'z');
    assert.equal(last.ejected, false);
  });
});

describe('metrics', () => {
  test('label values escape backslash, quote and newline', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  });

  test('histogram buckets are cumulative with +Inf last', () => {
    const c = new VersionCounters();
    for (const ms of [0.5, 1, 3, 20_000]) c.observe(200, ms);
    c.observe(503, 7);
    const s = c.snapshot();
    assert.equal(s.requests, 5);
    assert.deepEqual(s.byClass, { '2xx': 4, '3xx': 0, '4xx': 0, '5xx': 1 });
    assert.equal(s.latency.counts[0], 2); // <= 1 ms
    assert.equal(s.latency.counts[2], 3); // <= 5 ms
    assert.equal(s.latency.counts[3], 4); // <= 10 ms
    assert.equal(s.latency.counts.at(-2), 4); // <= 10 s
    assert.equal(s.latency.counts.at(-1), 5);
    assert.equal(s.latency.sumMs, 20_011.5);
  });
});
