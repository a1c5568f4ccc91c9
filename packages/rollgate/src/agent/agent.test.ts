import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { RouteSpec, ServiceKey } from '../core/dataplane.js';
import type { AgentEvent } from '../core/dataplane-schema.js';
import { RollgateError } from '../core/errors.js';
import { AgentClient, type PutServiceInput } from './client.js';
import { runAgent, type RunAgentOptions, type RunningAgent } from './main.js';
import { demoVersion, http, processAlive, tempDir, waitFor } from './testkit.js';
import { freePort } from '../demo/fixtures.js';

const key: ServiceKey = { env: 'production', app: 'demo' };
const weights = (w: Record<string, number>): RouteSpec => ({ balance: 'weights', weights: w, headerRoutes: [], sticky: false });


const quiet: RunAgentOptions['log'] = () => undefined;

describe('agent', { timeout: 90_000 }, () => {
  const tmp = tempDir();
  let running: RunningAgent;
  let client: AgentClient;
  let listenPort: number;
  const pids = new Set<number>();

  const start = async () => {
    running = await runAgent({ dataDir: tmp.dir, log: quiet, shutdownTimeoutMs: 5000 });
    client = new AgentClient({ url: running.url, token: running.token, timeoutMs: 10_000 });
  };
  const declare = (over: Partial<PutServiceInput> = {}) =>
    client.putService(key, { listenPort, versions: [demoVersion('v1', { replicas: 2 })], ...over });
  const trackPids = async () => {
    for (const s of await client.listServices()) for (const v of s.versions) for (const i of v.instances) if (i.pid) pids.add(i.pid);
  };

  before(async () => {
    listenPort = await freePort();
    await start();
  });
  after(async () => {
    await running?.stop();
    for (const pid of pids) assert.equal(processAlive(pid), false, `instance process ${pid} outlived the agent`);
    tmp.cleanup();
  });

  test('every /v1 route needs the token; /metrics does not', async () => {
    const none = await http(Number(new URL(running.url).port), '/v1/health');
    assert.equal(none.status, 401);
    assert.equal((JSON.parse(none.body) as { error: { code: string } }).error.code, 'unauthorized');
    const wrong = await fetch(`${running.url}/v1/services`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const bad = new AgentClient({ url: running.url, token: 'wrong' });
    await assert.rejects(bad.health(), (e: unknown) => e instanceof RollgateError && e.code === 'unauthorized');
    const h = await client.health();
    assert.equal(h.ok, true);
    assert.equal(h.pid, process.pid);
    const metrics = await fetch(`${running.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  });

  test('bad input gets 400 with the field and what is expected', async () => {
    const put = (path: string, body: string) =>
      fetch(`${running.url}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${running.token}`, 'content-type': 'application/json' }, body });
    const r1 = await put('/v1/services/production/demo', JSON.stringify({ listenPort, versions: [{ ...demoVersion('v1'), replicas: -1 }] }));
    assert.equal(r1.status, 400);
    const e1 = (await r1.json()) as { error: { code: string; message: string } };
    assert.equal(e1.error.code, 'invalid_input');
    assert.match(e1.error.message, /body\.versions\.0\.replicas/);
    const r2 = await put('/v1/services/production/demo', '{not json');
    assert.equal(r2.status, 400);
    assert.match(((await r2.json()) as { error: { message: string } }).error.message, /not valid JSON/);
    const r3 = await put('/v1/services/Prod_1/demo', JSON.stringify({ listenPort, versions: [] }));
    assert.equal(r3.status, 400);
    assert.match(((await r3.json()) as { error: { message: string } }).error.message, /environment "Prod_1"/);
    const r4 = await put('/v1/services/production/demo/routes', JSON.stringify(weights({ v1: 60, v2: 30 })));
    assert.equal(r4.status, 400);
    assert.match(((await r4.json()) as { error: { message: string } }).error.message, /sum to 100 \(they sum to 90\)/);
    const r5 = await fetch(`${running.url}/v1/services/production/demo/logs?instance=..%2F..%2Fetc`, { headers: { authorization: `Bearer ${running.token}` } });
    assert.equal(r5.status, 400, 'no path traversal through log names');
    await assert.rejects(client.getService({ env: 'production', app: 'nothing' }), (e: unknown) => e instanceof RollgateError && e.code === 'not_found');
  });

  test('a taken listener port is 409 port_in_use and changes nothing', async () => {
    const squatter: NetServer = createNetServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const taken = (squatter.address() as { port: number }).port;
    try {
      await assert.rejects(
        client.putService({ env: 'staging', app: 'demo' }, { listenPort: taken, versions: [demoVersion('v1')] }),
        (e: unknown) => e instanceof RollgateError && e.code === 'port_in_use' && e.status === 409 && e.message.includes(String(taken)),
      );
      assert.equal(await client.findService({ env: 'staging', app: 'demo' }), null);
    } finally {
      squatter.close();
    }
  });

  test('declares a service, streams its instance events, serves it, sets routes, shows logs', async () => {
    const events: AgentEvent[] = [];
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const stop = client.events((e) => events.push(e), { onOpen: () => opened() });
    try {
      await open;
      const first = await declare();
      assert.equal(first.env, 'production');
      assert.equal(first.listenPort, listenPort);
      assert.equal(first.routes, null);
      const svc = await waitFor('2 ready', async () => {
        const s = await client.getService(key);
        return s.versions[0]?.ready === 2 ? s : null;
      });
      const ids = svc.versions[0]!.instances.map((i) => i.id).sort();
      assert.deepEqual(ids, ['demo-production-v1-1', 'demo-production-v1-2']);
      await waitFor('ready events for both', () => ids.every((id) => events.some((e) => e.instance.id === id && e.instance.state === 'ready')));
      assert.ok(events.some((e) => e.instance.state === 'starting' && e.app === 'demo' && e.env === 'production'));

      const routed = await client.putRoutes(key, weights({ v1: 100 }));
      assert.deepEqual(routed.routes?.weights, { v1: 100 });
      const r = await waitFor('traffic through the listener', async () => {
        const res = await http(listenPort, '/').catch(() => null);
        return res?.status === 200 ? res : null;
      });
      assert.equal((JSON.parse(r.body) as { version: string }).version, 'v1');

      // Routes naming a version with no instance are accepted (the router falls back).
      const canary = await client.putRoutes(key, weights({ v1: 90, v2: 10 }));
      assert.deepEqual(canary.routes?.weights, { v1: 90, v2: 10 });
      await client.putRoutes(key, weights({ v1: 100 }));

      const lines = await client.logs(key, { version: 'v1', tail: 20 });
      assert.ok(lines.some((l) => /listening on/.test(l.text)));
      assert.ok(lines.every((l) => l.version === 'v1'));
      const listed = await client.listServices();
      assert.deepEqual(listed.map((s) => `${s.env}/${s.app}`), ['production/demo']);
      await trackPids();
    } finally {
      stop();
    }
  });

  test('a request in flight through the router completes before its instance gets SIGTERM', async () => {
    await client.putRoutes(key, weights({ v1: 100 }));
    const [old] = (await client.getService(key)).versions[0]!.instances;
    // Replace v1 by v2: v1's instances drain.
    const slow = http(listenPort, '/slow?ms=900');
    await waitFor('request reached the instance', async () => (await client.getService(key)).versions[0]!.instances.some((i) => i.inFlight > 0));
    await declare({ versions: [demoVersion('v2', { replicas: 1 })], routes: weights({ v2: 100 }) });
    const draining = await waitFor('v1 draining with its request', async () => {
      const v1 = (await client.getService(key)).versions.find((v) => v.version === 'v1');
      return v1?.instances.find((i) => i.state === 'draining' && i.inFlight === 1) ?? null;
    });
    const early = await client.logs(key, { instance: draining.id, tail: 50 });
    assert.ok(!early.some((l) => /sending SIGTERM/.test(l.text)), 'no SIGTERM while a request is in flight');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { version: string }).version, 'v1');
    await waitFor('v1 gone', async () => !(await client.getService(key)).versions.some((v) => v.version === 'v1'));
    const late = await client.logs(key, { instance: draining.id, tail: 50 });
    assert.ok(late.some((l) => /sending SIGTERM/.test(l.text)));
    assert.ok(old);
    // Back to v1 for the next tests.
    await declare({ routes: weights({ v1: 100 }) });
    await waitFor('v1 back, v2 gone', async () => {
      const s = await client.getService(key);
      return s.versions.length === 1 && s.versions[0]!.ready === 2;
    });
    await trackPids();
  });

  test('a restarted agent restores its services from desired.json', async () => {
    const before = await client.getService(key);
    const oldToken = running.token;
    await running.stop();
    for (const pid of pids) assert.equal(processAlive(pid), false, 'stop() stops every instance');
    await assert.rejects(client.health(), (e: unknown) => e instanceof RollgateError && e.code === 'agent_unreachable' && e.message.includes(running.url));
    await start();
    assert.equal(running.token, oldToken, 'the token in <dataDir>/agent.token is kept');
    const svc = await waitFor('restored and ready', async () => {
      const s = await client.findService(key);
      return s && s.versions[0]?.ready === 2 ? s : null;
    });
    assert.deepEqual(svc.routes, before.routes);
    const r = await waitFor('serving again', async () => {
      const res = await http(listenPort, '/').catch(() => null);
      return res?.status === 200 ? res : null;
    });
    assert.equal((JSON.parse(r.body) as { version: string }).version, 'v1');
    await trackPids();
  });

  test('DELETE drains the service and forgets it', async () => {
    await client.deleteService(key);
    await waitFor('gone', async () => (await client.findService(key)) === null);
    assert.deepEqual(await client.listServices(), []);
    await assert.rejects(client.deleteService(key), (e: unknown) => e instanceof RollgateError && e.code === 'not_found');
  });

  test('instances the router ejects show as ejected, with an event', async () => {
    const events: AgentEvent[] = [];
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const stop = client.events((e) => events.push(e), { onOpen: () => opened() });
    try {
      await open;
      await declare({ versions: [demoVersion('v1', { replicas: 1 }), demoVersion('bad', { replicas: 1, env: { FAIL_RATE: '1' } })], routes: weights({ v1: 50, bad: 50 }) });
      await waitFor('both ready', async () => (await client.getService(key)).versions.every((v) => v.ready === 1));
      await trackPids();
      const ejected = await waitFor('an ejection', async () => {
        await http(listenPort, '/');
        const bad = (await client.getService(key)).versions.find((v) => v.version === 'bad');
        return bad?.instances.find((i) => i.state === 'ejected') ?? null;
      }, 20_000);
      assert.equal(ejected.id, 'demo-production-bad-1');
      await waitFor('ejection event', () => events.some((e) => e.instance.id === ejected.id && e.instance.state === 'ejected'));
    } finally {
      stop();
    }
  });
});
