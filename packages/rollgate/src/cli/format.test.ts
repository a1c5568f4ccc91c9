import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analysisLines, formatDuration, formatInstances, formatWeights, statusTable, table, trafficShare, weightBar } from './format.js';
import { parseSse } from './sse.js';
import { LineSet } from './commands/info.js';
import { listenerUrl } from './daemon.js';
import type { ServiceStatus } from '../api/contract.js';
import type { InstanceObserved } from '../core/dataplane.js';

const inst = (id: string, state: InstanceObserved['state']): InstanceObserved => ({ id, version: 'v2', port: 1, pid: 1, state, restarts: 0, startedAt: '', readyAt: null, lastError: null, inFlight: 0 });

describe('formatting', () => {
  test('durations', () => {
    assert.equal(formatDuration(850), '850ms');
    assert.equal(formatDuration(12_400), '12s');
    assert.equal(formatDuration(185_000), '3m 05s');
    assert.equal(formatDuration(2 * 3600_000 + 600_000), '2h 10m');
    assert.equal(formatDuration(-1), '-');
  });

  test('weights, bars and instances', () => {
    assert.equal(formatWeights({ v1: 80, v2: 20 }), 'v1 80% · v2 20%');
    assert.equal(formatWeights({ v1: 100, v2: 0 }), 'v1 100%');
    assert.equal(formatWeights({}), '-');
    assert.equal(weightBar(50, 10), '[█████░░░░░]  50%');
    assert.equal(weightBar(140, 4), '[████] 100%');
    assert.equal(formatInstances({ ready: 1, desiredReplicas: 2, instances: [inst('a', 'ready'), inst('b', 'starting')] }), '1/2 ready, 1 starting');
  });

  test('tables align columns and the status table has one row per service', () => {
    assert.equal(table(['a', 'bb'], [['xxx', 'y'], ['z', 'w']]), 'A    BB\nxxx  y\nz    w');
    const s: ServiceStatus = {
      app: 'shop',
      env: 'production',
      listen: '127.0.0.1:8080',
      currentVersion: 'v1',
      previousVersion: null,
      routes: { balance: 'weights', weights: { v1: 80, v2: 20 }, headerRoutes: [], sticky: true },
      versions: [
        { version: 'v1', releaseId: 'r1', weight: 80, desiredReplicas: 2, ready: 2, instances: [inst('a', 'ready'), inst('b', 'ready')], failed: false, failureReason: null, requests: 0, errors5xx: 0 },
      ],
      activeDeployment: null,
      dataPlaneError: null,
      isolation: 'user+namespace',
    };
    const out = statusTable([s, { ...s, env: 'staging', isolation: 'none' }]).split('\n');
    assert.equal(out.length, 3);
    assert.match(out[1]!, /^shop\s+production\s+v1\s+v1 80% · v2 20%\s+v1 2\/2 ready\s+-\s+user\+namespace$/);
    assert.match(out[2]!, /^shop\s+staging\s.*NONE \(can read the platform's files\)$/);
  });

  test('balance: instances shows instances in rotation, not percentages; a not-judged analysis says so', () => {
    const versions = [
      { version: 'v1', ready: 2 },
      { version: 'v2', ready: 1 },
    ];
    assert.equal(formatWeights({ v1: 1, v2: 1 }, { balance: 'instances', versions }), 'v1 2 inst · v2 1 inst');
    assert.equal(formatWeights({ v1: 80, v2: 20 }, { balance: 'weights', versions }), 'v1 80% · v2 20%');
    assert.equal(trafficShare({ balance: 'instances', weights: { v2: 1 } }, { version: 'v2', ready: 1 }), '1 inst in rotation');
    const [head] = analysisLines({ phase: 'background', verdict: 'not_judged', reason: 'not judged: no traffic to v2 in 2m 00s', startedAt: '', at: '', metrics: [] });
    assert.equal(head, 'analysis (background): not judged — not judged: no traffic to v2 in 2m 00s');
  });

  test('listener URLs', () => {
    assert.equal(listenerUrl(18080), 'http://127.0.0.1:18080');
    assert.equal(listenerUrl('0.0.0.0:9000'), 'http://127.0.0.1:9000');
    assert.equal(listenerUrl('10.0.0.2:9000'), 'http://10.0.0.2:9000');
    assert.equal(listenerUrl('http://127.0.0.1:18081'), 'http://127.0.0.1:18081');
    assert.equal(listenerUrl('http://0.0.0.0:18081'), 'http://127.0.0.1:18081');
  });
});

describe('event stream parsing', () => {
  test('messages split across chunks, CRLF, comments and multi-line data', async () => {
    async function* chunks() {
      yield ': ping\n\n';
      yield 'id: 1\nevent: deployment\ndata: {"a"';
      yield ':1}\r';
      yield '\n\r\nid: 2\ndata: line1\ndata: line2\n\n';
      yield 'data: unterminated';
    }
    const got = [];
    for await (const m of parseSse(chunks())) got.push(m);
    assert.deepEqual(got, [
      { id: '1', event: 'deployment', data: '{"a":1}' },
      { id: '2', event: 'message', data: 'line1\nline2' },
    ]);
  });
});

describe('logs --follow de-duplication', () => {
  const l = (sec: number, text: string) => ({ at: new Date(Date.UTC(2025, 0, 1, 0, 0, sec)).toISOString(), instance: 'i1', version: 'v1', stream: 'stdout' as const, text });
  test('prints only lines newer than those shown, whatever the size of the re-read window', () => {
    const seen = new LineSet([l(10, 'j'), l(11, 'k')]); // the user asked for --tail 2
    // The re-read tail is longer: the older lines a..i were never asked for.
    const older = Array.from({ length: 9 }, (_, i) => l(i, String.fromCharCode(97 + i)));
    assert.deepEqual(seen.fresh([...older, l(10, 'j'), l(11, 'k'), l(12, 'x')]).map((x) => x.text), ['x']);
    assert.deepEqual(seen.fresh([l(11, 'k'), l(12, 'x'), l(13, 'y')]).map((x) => x.text), ['y']);
    // A line of another instance that arrives late, with a slightly older time, still shows once.
    const late = { ...l(12, 'late'), instance: 'i2' };
    assert.deepEqual(seen.fresh([l(12, 'x'), late, l(13, 'y')]).map((x) => x.text), ['late']);
    assert.deepEqual(seen.fresh([l(12, 'x'), late, l(13, 'y')]).map((x) => x.text), []);
  });
});

test('analysisLines shows the verdict and, per metric, canary vs stable and why', () => {
  const lines = analysisLines({
    phase: 'background',
    verdict: 'fail',
    reason: 'error-rate: canary fails more often',
    startedAt: '2026-01-01T00:00:00.000Z',
    at: '2026-01-01T00:00:01.000Z',
    metrics: [
      { name: 'error-rate', verdict: 'fail', reason: 'e=1300 >= 1000', canary: 0.0816, stable: 0 },
      { name: 'latency-p99', verdict: 'pass', reason: 'no shift', canary: 12.5, stable: 11 },
    ],
  });
  assert.equal(lines[0], 'analysis (background): fail — error-rate: canary fails more often');
  assert.match(lines[1]!, /✗ error-rate .*canary +0\.0816 +stable +0\.0 .*e=1300/);
  assert.match(lines[2]!, /✓ latency-p99 .*canary +12\.5 +stable +11\.0/);
  assert.deepEqual(analysisLines(null), []);
});
