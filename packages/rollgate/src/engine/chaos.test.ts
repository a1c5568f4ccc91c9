/**
 * Chaos experiments end to end: a real agent running the demo app, a real SQLite store, the real
 * API (createApi with its token check, plus registerChaosRoutes) on a loopback port.
 */
import { generateToken } from '../engine/auth/index.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerType } from '@hono/node-server';
import { AgentClient } from '../agent/client.js';
import { runAgent, type RunningAgent } from '../agent/main.js';
import { demoVersion, processAlive, waitFor } from '../agent/testkit.js';
import { startPartialApi } from '../test/partial-api.js';
import { registerChaosRoutes } from '../api/routes-chaos.js';
import type { ServiceKey } from '../core/dataplane.js';
import type { EventRecord } from '../core/domain.js';
import { RollgateError } from '../core/errors.js';
import type { ChaosRecord } from '../core/incidents.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { Chaos } from './chaos.js';
import { EventBus } from './events.js';
import { silentLogger } from './logger.js';
import { freePort } from '../demo/fixtures.js';



const TOKEN = generateToken();
const key: ServiceKey = { env: 'production', app: 'shop' };

let dir: string;
let agent: RunningAgent;
let agentClient: AgentClient;
let store: Store;
let events: EventBus;
let chaos: Chaos;
let server: ServerType;
let base: string;
const seen: EventRecord[] = [];
const pids = new Set<number>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rollgate-chaos-'));
  agent = await runAgent({ dataDir: join(dir, 'agent'), log: () => undefined, shutdownTimeoutMs: 5000, supervisor: { backoff: { initialMs: 50, maxMs: 500, resetAfterMs: 60_000 } } });
  agentClient = new AgentClient({ url: agent.url, token: agent.token, timeoutMs: 10_000 });
  await agentClient.putService(key, {
    listenPort: await freePort(),
    versions: [demoVersion('v1'), demoVersion('v2'), demoVersion('broken', { replicas: 0 })],
    routes: { balance: 'weights', weights: { v1: 90, v2: 10 }, headerRoutes: [], sticky: false },
  });
  await waitFor('v1 and v2 ready', async () => (await agentClient.getService(key)).versions.filter((v) => v.ready === 1).length === 2, 15_000);
  for (const s of await agentClient.listServices()) for (const v of s.versions) for (const i of v.instances) if (i.pid) pids.add(i.pid);

  store = await openStore({ dataDir: join(dir, 'server') });
  await store.upsertApp('shop', { run: 'node server.js' });
  await store.upsertEnvironment('production', { listen: 1 });
  await store.upsertEnvironment('staging', { listen: 2 });
  events = new EventBus(store);
  events.subscribe((e) => seen.push(e));
  chaos = new Chaos({ store, events, agent: agentClient, log: silentLogger });
  await chaos.start();
  ({ base, server } = await startPartialApi(TOKEN, { store, events, chaos }));
});

after(async () => {
  chaos?.close();
  await new Promise<void>((r) => {
    server?.close(() => r());
    (server as unknown as { closeAllConnections?: () => void })?.closeAllConnections?.();
  });
  await store?.close();
  await agent?.stop();
  for (const pid of pids) assert.equal(processAlive(pid), false, `instance process ${pid} outlived the agent`);
  await rm(dir, { recursive: true, force: true });
});

type ErrorBody = { error: { code: string; message: string } };

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const inject = (over: Record<string, unknown> = {}) =>
  api<ChaosRecord & ErrorBody>('POST', '/v1/chaos/inject', { app: 'shop', env: 'production', version: 'v2', errorRate: 0.2, latencyMs: 200, durationMs: 60_000, ...over });
const typed = (type: string, id: string) => seen.filter((e) => e.type === type && (e.data as { id?: string }).id === id);

describe('chaos', { timeout: 90_000 }, () => {
  test('inject: recorded active, in force on the agent, listed, chaos.started emitted; a second inject replaces it', async () => {
    const r = await inject();
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const rec = r.body;
    assert.deepEqual([rec.kind, rec.status, rec.version, rec.errorRate, rec.latencyMs, rec.actor], ['fault', 'active', 'v2', 0.2, 200, 'user:admin']);
    assert.equal(Date.parse(rec.endsAt) - Date.parse(rec.startedAt), 60_000);
    assert.match(rec.detail ?? '', /in force on the agent until/);
    assert.deepEqual((await agentClient.listFaults(key)).map((f) => [f.version, f.errorRate, f.latencyMs]), [['v2', 0.2, 200]]);
    assert.equal(agent.agent.faults.decide('production', 'shop', 'v2')?.delayMs, 200);
    assert.equal(typed('chaos.started', rec.id).length, 1);
    const listed = await api<ChaosRecord[]>('GET', '/v1/chaos?app=shop&env=production&status=active');
    assert.deepEqual(listed.body.map((c) => c.id), [rec.id]);

    const r2 = await inject({ errorRate: 0.5, latencyMs: 0 });
    assert.equal(r2.status, 201);
    const old = await store.getChaos(rec.id);
    assert.equal(old?.status, 'stopped');
    assert.equal(old?.detail, `replaced by ${r2.body.id}`);
    assert.equal((typed('chaos.stopped', rec.id)[0]?.data as { reason: string }).reason, 'replaced');
    assert.deepEqual((await agentClient.listFaults(key)).map((f) => [f.version, f.errorRate, f.latencyMs]), [['v2', 0.5, 0]]);
  });

  test('stop: records stopped, the agent cleared, chaos.stopped emitted; stopping again is harmless', async () => {
    await inject({ version: 'v1', errorRate: 0.1 });
    const active = await store.listChaos({ app: 'shop', env: 'production', status: 'active' });
    assert.equal(active.length, 2);
    const r = await api<{ stopped: ChaosRecord[]; cleared: number }>('POST', '/v1/chaos/stop', { app: 'shop', env: 'production' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.cleared, 2);
    assert.deepEqual(r.body.stopped.map((c) => c.status), ['stopped', 'stopped']);
    assert.ok(r.body.stopped.every((c) => c.stoppedAt && c.detail === 'stopped by user:admin'));
    for (const c of active) assert.equal((typed('chaos.stopped', c.id)[0]?.data as { reason: string }).reason, 'stopped');
    assert.deepEqual(await agentClient.listFaults(key), []);
    assert.equal(agent.agent.faults.decide('production', 'shop', 'v2'), null);
    const again = await api<{ stopped: ChaosRecord[]; cleared: number }>('POST', '/v1/chaos/stop', { app: 'shop', env: 'production', version: 'v2' });
    assert.deepEqual(again.body, { stopped: [], cleared: 0 });
  });

  test('expiry: the record is marked expired by its timer, and the agent lapses the fault by itself', async () => {
    const r = await inject({ durationMs: 300 });
    assert.equal(r.status, 201);
    const expired = await waitFor('the record to expire', async () => ((await store.getChaos(r.body.id))?.status === 'expired' ? true : null), 5000);
    assert.ok(expired);
    const rec = await store.getChaos(r.body.id);
    assert.equal(rec?.stoppedAt, rec?.endsAt);
    assert.equal((typed('chaos.stopped', r.body.id)[0]?.data as { reason: string }).reason, 'expired');
    await waitFor('the agent to drop the fault', async () => (await agentClient.listFaults(key)).length === 0, 3000);
  });

  test('expiry on read: an active record past its end (e.g. from before a restart) lists as expired', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    await store.createChaos({ id: 'chaos-0000000000aa', app: 'shop', env: 'production', version: 'v1', kind: 'fault', errorRate: 0.3, latencyMs: 0, status: 'active', startedAt: past, endsAt: past, stoppedAt: null, actor: 'old-server', detail: null });
    const list = await api<ChaosRecord[]>('GET', '/v1/chaos?app=shop');
    assert.equal(list.body.find((c) => c.id === 'chaos-0000000000aa')?.status, 'expired');
  });

  test('refused: bad rates, latencies, durations, versions not running, unknown names — clear messages, nothing recorded', async () => {
    const before = (await store.listChaos({ limit: 1000 })).length;
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ errorRate: 1.5 }, 400, /error rate must be from 0% to 100% \(got 150%\)/],
      [{ errorRate: -0.1 }, 400, /error rate must be from 0% to 100%/],
      [{ latencyMs: 61_000 }, 400, /latency must be from 0ms to 60s \(got 1m01s\)/],
      [{ durationMs: 2 * 3_600_000 }, 400, /duration must be from 100ms to 1h/],
      [{ durationMs: 10 }, 400, /duration must be from 100ms to 1h \(got 10ms\)/],
      [{ errorRate: 0, latencyMs: 0 }, 400, /needs an error rate above 0% or a latency above 0ms/],
      [{ errorRate: '20%' }, 400, /errorRate/],
      [{ version: 'v9' }, 409, /shop v9 is not running in production; running: v1 \(1 ready\), v2 \(1 ready\)/],
      [{ version: 'broken' }, 409, /shop broken is not running in production \(no instance is up right now\)/],
      [{ env: 'staging' }, 409, /shop does not run in staging; deploy it first/],
      [{ app: 'nope' }, 404, /unknown app "nope"; known apps: shop/],
      [{ env: 'mars' }, 404, /unknown environment "mars"/],
      [{ extra: 1 }, 400, /extra|Unrecognized/i],
    ];
    for (const [over, status, re] of cases) {
      const r = await inject(over);
      assert.equal(r.status, status, `${JSON.stringify(over)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, re, JSON.stringify(over));
    }
    const kill = await api<ErrorBody>('POST', '/v1/chaos/kill', { app: 'shop', env: 'production', version: 'v9' });
    assert.equal(kill.status, 409);
    const badQuery = await api<ErrorBody>('GET', '/v1/chaos?status=running');
    assert.equal(badQuery.status, 400);
    assert.equal((await store.listChaos({ limit: 1000 })).length, before);
    assert.deepEqual(await agentClient.listFaults(key), []);
  });

  test('kill: recorded with the instance, which the agent restarts (restarts + 1)', async () => {
    const inst = (await agentClient.getService(key)).versions.find((v) => v.version === 'v2')!.instances[0]!;
    const r = await api<ChaosRecord>('POST', '/v1/chaos/kill', { app: 'shop', env: 'production', version: 'v2' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.kind, 'kill');
    assert.equal(r.body.status, 'expired');
    assert.match(r.body.detail ?? '', new RegExp(`killed instance ${inst.id} \\(pid ${inst.pid}\\) with SIGKILL`));
    assert.equal(typed('chaos.started', r.body.id).length, 1);
    const back = await waitFor(
      'the killed instance to run again',
      async () => {
        const i = (await agentClient.getService(key)).versions.find((v) => v.version === 'v2')?.instances.find((x) => x.id === inst.id);
        return i && i.state === 'ready' && i.pid !== inst.pid ? i : null;
      },
      15_000,
    );
    if (back.pid) pids.add(back.pid);
    assert.equal(back.restarts, inst.restarts + 1);
  });

  test('agent unreachable: inject records nothing; stop still stops the records and says when faults lapse', async () => {
    const dead = new AgentClient({ url: `http://127.0.0.1:${await freePort()}`, token: 'x', timeoutMs: 2000 });
    const offline = new Chaos({ store, events, agent: dead });
    const before = (await store.listChaos({ limit: 1000 })).length;
    await assert.rejects(offline.inject({ app: 'shop', env: 'production', version: 'v2', errorRate: 0.1, latencyMs: 0, durationMs: 1000 }, 'tester'), (e: unknown) => e instanceof RollgateError && e.code === 'agent_unreachable');
    assert.equal((await store.listChaos({ limit: 1000 })).length, before);

    const endsAt = new Date(Date.now() + 60_000).toISOString();
    await store.createChaos({ id: 'chaos-0000000000bb', app: 'shop', env: 'production', version: 'v1', kind: 'fault', errorRate: 0.3, latencyMs: 0, status: 'active', startedAt: new Date().toISOString(), endsAt, stoppedAt: null, actor: 'tester', detail: null });
    await assert.rejects(offline.stop('shop', 'production', null, 'tester'), (e: unknown) => e instanceof RollgateError && e.code === 'agent_unreachable' && e.message.includes(`lapse by themselves by ${endsAt}`));
    assert.equal((await store.getChaos('chaos-0000000000bb'))?.status, 'stopped');
    offline.close();
  });
});
