import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { InstanceObserved, ServiceKey } from '../core/dataplane.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';
import { listenerOwnedByGroup } from './ports.js';
import { DEMO_APP_DIR, demoVersion, http, processAlive, tempDir, waitFor } from './testkit.js';

const key: ServiceKey = { env: 'production', app: 'demo' };

function harness(over: Partial<SupervisorOptions> = {}) {
  const tmp = tempDir();
  const events: InstanceObserved[] = [];
  const sup = new Supervisor({ dataDir: tmp.dir, backoff: { initialMs: 100, maxMs: 2000, resetAfterMs: 60_000 }, onInstance: (_k, i) => events.push(i), ...over });
  const pids = new Set<number>();
  const track = () => {
    for (const v of sup.observe(key)) for (const i of v.instances) if (i.pid) pids.add(i.pid);
  };
  const close = async () => {
    track();
    await sup.shutdown(5000);
    for (const pid of pids) assert.equal(processAlive(pid), false, `process ${pid} still alive after shutdown`);
    tmp.cleanup();
  };
  return { sup, events, track, close, dataDir: tmp.dir };
}

function instances(sup: Supervisor, version?: string): InstanceObserved[] {
  return sup.observe(key).filter((v) => !version || v.version === version).flatMap((v) => v.instances);
}

describe('supervisor', { timeout: 60_000 }, () => {
  test('starts replicas on their own ports, is idempotent, scales down, captures logs', async () => {
    const h = harness();
    try {
      const v1 = demoVersion('v1', { replicas: 3 });
      h.sup.reconcile(key, [v1]);
      await waitFor('3 ready instances', () => h.sup.ready(key)['v1']?.length === 3);
      const ready = h.sup.ready(key)['v1']!;
      assert.equal(new Set(ready.map((b) => b.port)).size, 3, 'distinct ports');
      for (const b of ready) {
        const r = await http(b.port, '/');
        assert.equal(r.status, 200);
        const body = JSON.parse(r.body) as { version: string; instance: string };
        assert.equal(body.instance, b.id, 'ROLLGATE_INSTANCE reaches the app');
        assert.equal(body.version, 'v1', 'ROLLGATE_VERSION is the default version of the demo app');
      }
      const pidsBefore = instances(h.sup).map((i) => i.pid);
      h.sup.reconcile(key, [v1]);
      h.sup.reconcile(key, [{ ...v1 }]);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(instances(h.sup).map((i) => i.pid), pidsBefore, 'same declaration changes nothing');

      h.track();
      h.sup.reconcile(key, [{ ...v1, replicas: 1 }]);
      await waitFor('one instance left', () => instances(h.sup).length === 1);
      assert.equal(h.sup.ready(key)['v1']!.length, 1);

      const lines = await h.sup.logs(key, { tail: 50 });
      assert.ok(lines.some((l) => l.stream === 'stdout' && /listening on http:\/\/127\.0\.0\.1:\d+/.test(l.text)), 'stdout captured');
      assert.ok(lines.every((l) => l.version === 'v1' && l.instance.startsWith('demo-production-v1-')));
      const one = await h.sup.logs(key, { tail: 2, instance: ready[0]!.id });
      assert.ok(one.length <= 2 && one.every((l) => l.instance === ready[0]!.id));
      assert.deepEqual(await h.sup.logs(key, { tail: 5, version: 'v9' }), []);
    } finally {
      await h.close();
    }
  });

  test('restarts a crashed instance with a doubling backoff', async () => {
    const h = harness();
    try {
      h.sup.reconcile(key, [demoVersion('v1', { env: { CRASH_AFTER: '1' } })]);
      const [b] = await waitFor('ready', () => (h.sup.ready(key)['v1']?.length ? h.sup.ready(key)['v1'] : null));
      const firstPid = instances(h.sup)[0]!.pid;
      await http(b!.port, '/');
      await http(b!.port, '/').catch(() => undefined); // second request makes it exit
      await waitFor('restarted and ready', () => {
        const i = instances(h.sup)[0];
        return i?.state === 'ready' && i.restarts === 1 ? i : null;
      });
      assert.notEqual(instances(h.sup)[0]!.pid, firstPid);
      const [b2] = h.sup.ready(key)['v1']!;
      await http(b2!.port, '/');
      await http(b2!.port, '/').catch(() => undefined);
      await waitFor('second restart', () => instances(h.sup)[0]?.restarts === 2 && instances(h.sup)[0]?.state === 'ready');
      const crashes = h.events.filter((e) => e.state === 'crashed').map((e) => e.lastError ?? '');
      assert.equal(crashes.length, 2);
      assert.match(crashes[0]!, /exited with code 1.*crashAfter.*restarting in 100ms/);
      assert.match(crashes[1]!, /restarting in 200ms/);
      const v = h.sup.observe(key)[0]!;
      assert.equal(v.failed, false, 'a version that served is never given up');
    } finally {
      await h.close();
    }
  });

  test('an app that crashes on start marks its version failed with its stderr', async () => {
    const h = harness();
    try {
      h.sup.reconcile(key, [demoVersion('v3', { env: { CRASH_ON_START: '1' } })]);
      const v = await waitFor('version failed', () => h.sup.observe(key).find((x) => x.failed));
      assert.match(v.failureReason!, /^instance demo-production-v3-1 exited with code 1 before becoming healthy \(3 attempts\): Error: demo-app v3 configured to crash on start/);
      assert.equal(instances(h.sup)[0]!.state, 'failed');
      const restarts = instances(h.sup)[0]!.restarts;
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(instances(h.sup)[0]!.restarts, restarts, 'no restarts after giving up');
      assert.deepEqual(h.sup.ready(key), { v3: [] });
      // The same declaration again does not retry (idempotent); listing it anew after removal does.
      h.sup.reconcile(key, [demoVersion('v3', { env: { CRASH_ON_START: '1' } })]);
      assert.equal(h.sup.observe(key)[0]!.failed, true);
    } finally {
      await h.close();
    }
  });

  test('a health check that never passes fails within startTimeout', async () => {
    const h = harness();
    try {
      const health = { path: '/healthz', intervalMs: 100, timeoutMs: 300, healthyThreshold: 1, unhealthyThreshold: 2, startTimeoutMs: 700 };
      h.sup.reconcile(key, [demoVersion('v2', { env: { HEALTHY: '0' }, health })]);
      const v = await waitFor('version failed', () => h.sup.observe(key).find((x) => x.failed), 5000);
      assert.match(v.failureReason!, /did not become healthy within 700ms \(GET \/healthz answered 503\)/);
      await waitFor('process gone', () => instances(h.sup)[0]?.pid === null);
    } finally {
      await h.close();
    }
  });

  test('an app on a port that is taken fails with a clear message', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const busyPort = (busy.address() as { port: number }).port;
    const h = harness({ maxStartAttempts: 2 });
    try {
      // The app ignores the port it is given and tries one that another program holds.
      h.sup.reconcile(key, [demoVersion('v1', { command: `PORT=${busyPort} ${JSON.stringify(process.execPath)} server.js` })]);
      const v = await waitFor('version failed', () => h.sup.observe(key).find((x) => x.failed));
      assert.match(v.failureReason!, /could not listen on port \d+: address already in use .*does not listen on \$PORT.*EADDRINUSE/);
    } finally {
      await h.close();
      busy.close();
    }
  });

  test('knows whether a listener belongs to a process group', async () => {
    const child = spawn(process.execPath, ['server.js'], { cwd: DEMO_APP_DIR, env: { PORT: '0' }, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const foreign = createServer();
    try {
      const port = await new Promise<number>((resolve) => {
        child.stdout!.setEncoding('utf8').on('data', (t: string) => {
          const m = /127\.0\.0\.1:(\d+)/.exec(t);
          if (m) resolve(Number(m[1]));
        });
      });
      await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', r));
      const foreignPort = (foreign.address() as { port: number }).port;
      const own = await listenerOwnedByGroup(port, child.pid!);
      if (own === null) return; // no /proc here: the check is skipped, as in production
      assert.equal(own, true);
      assert.equal(await listenerOwnedByGroup(foreignPort, child.pid!), false);
    } finally {
      child.kill('SIGKILL');
      foreign.close();
    }
  });

  test('drain waits for in-flight requests, then stops the instance', async () => {
    let inFlight = 0;
    const h = harness({ inFlight: () => inFlight });
    try {
      h.sup.reconcile(key, [demoVersion('v1', { drainTimeoutMs: 5000 })]);
      const [b] = await waitFor('ready', () => (h.sup.ready(key)['v1']?.length ? h.sup.ready(key)['v1'] : null));
      const pid = instances(h.sup)[0]!.pid!;
      inFlight = 1;
      const slow = http(b!.port, '/slow?ms=700').finally(() => (inFlight = 0));
      await new Promise((r) => setTimeout(r, 100));
      h.sup.reconcile(key, []);
      await waitFor('draining', () => instances(h.sup)[0]?.state === 'draining');
      assert.deepEqual(h.sup.ready(key), {}, 'a draining instance is out of rotation');
      assert.equal(processAlive(pid), true, 'still running while a request is in flight');
      const r = await slow;
      assert.equal(r.status, 200, 'the in-flight request completed');
      await waitFor('stopped and forgotten', () => h.sup.observe(key).length === 0);
      assert.equal(processAlive(pid), false);
      assert.deepEqual(
        h.events.filter((e) => e.id === b!.id).map((e) => e.state),
        ['starting', 'ready', 'draining', 'stopped'],
      );
    } finally {
      await h.close();
    }
  });

  test('an app started through a shell still drains after the shell dies on SIGTERM', async () => {
    // Shell syntax keeps the shell in front of the app (no exec): SIGTERM reaches both, the shell dies at once.
    const h = harness({ inFlight: () => 0 });
    try {
      h.sup.reconcile(key, [demoVersion('v1', { command: `cd . && ${JSON.stringify(process.execPath)} server.js`, drainTimeoutMs: 5000 })]);
      const [b] = await waitFor('ready', () => (h.sup.ready(key)['v1']?.length ? h.sup.ready(key)['v1'] : null));
      const slow = http(b!.port, '/slow?ms=600');
      await new Promise((r) => setTimeout(r, 150));
      h.sup.reconcile(key, []); // the supervisor sees no in-flight request and sends SIGTERM at once
      const r = await slow;
      assert.equal(r.status, 200, 'the app finished its request: the group was not killed with the shell');
      await waitFor('stopped', () => h.sup.observe(key).length === 0);
    } finally {
      await h.close();
    }
  });

  test('SIGKILL after the drain timeout for an app that ignores SIGTERM', async () => {
    const h = harness();
    try {
      h.sup.reconcile(key, [demoVersion('v1', { env: { IGNORE_SIGTERM: '1' }, drainTimeoutMs: 300 })]);
      await waitFor('ready', () => h.sup.ready(key)['v1']?.length === 1);
      const inst = instances(h.sup)[0]!;
      h.sup.reconcile(key, []);
      await waitFor('stopped', () => h.sup.observe(key).length === 0, 5000);
      assert.equal(processAlive(inst.pid!), false);
      const lines = await h.sup.logs(key, { tail: 20, instance: inst.id });
      assert.ok(lines.some((l) => /ignoring SIGTERM/.test(l.text)), 'the app got SIGTERM first');
      assert.ok(lines.some((l) => /sending SIGKILL/.test(l.text)));
    } finally {
      await h.close();
    }
  });

  test('a changed release replaces instances: new ones start, old ones drain after', async () => {
    const h = harness();
    try {
      h.sup.reconcile(key, [demoVersion('v1', { replicas: 2 })]);
      await waitFor('2 ready', () => h.sup.ready(key)['v1']?.length === 2);
      const oldIds = h.sup.ready(key)['v1']!.map((b) => b.id);
      h.sup.reconcile(key, [demoVersion('v1', { replicas: 2, releaseId: 'rel-v1-rebuilt', env: { LATENCY_MS: '1' } })]);
      // Capacity never drops: at every moment at least 2 ready instances until all are replaced.
      let minReady = 2;
      await waitFor('replaced', () => {
        const ready = h.sup.ready(key)['v1'] ?? [];
        minReady = Math.min(minReady, ready.length);
        return ready.length === 2 && ready.every((b) => !oldIds.includes(b.id)) && instances(h.sup).length === 2;
      });
      assert.equal(minReady, 2);
      assert.equal(h.sup.observe(key)[0]!.releaseId, 'rel-v1-rebuilt');
    } finally {
      await h.close();
    }
  });

  test('shutdown stops every instance and leaves no process behind', async () => {
    const h = harness();
    h.sup.reconcile(key, [demoVersion('v1', { replicas: 2 }), demoVersion('v2', { replicas: 1, env: { START_DELAY_MS: '5000' } })]);
    await waitFor('v1 ready', () => h.sup.ready(key)['v1']?.length === 2);
    h.track();
    assert.equal(instances(h.sup, 'v2')[0]!.state, 'starting');
    await h.close(); // asserts every pid is gone
  });
});
