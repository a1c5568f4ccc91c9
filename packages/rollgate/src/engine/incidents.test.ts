/**
 * Incidents against a real SQLite store, through the real API (createApi with its token check,
 * plus registerIncidentRoutes) on a loopback port.
 */
import { generateToken } from '../engine/auth/index.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerType } from '@hono/node-server';
import { startPartialApi } from '../test/partial-api.js';
import { registerIncidentRoutes, type AlertmanagerResponse, type IncidentView } from '../api/routes-incidents.js';
import type { DeploymentRecord, DeploymentStatus, EventRecord } from '../core/domain.js';
import type { Store } from '../store/types.js';
import { openStore } from '../store/index.js';
import { StrategySpec } from '../core/spec.js';
import { initialState } from './deployments.js';
import { EventBus } from './events.js';
import { Incidents } from './incidents.js';

/** A dependency the routes under test must not touch. */

const TOKEN = generateToken();

let dir: string;
let store: Store;
let events: EventBus;
let incidents: Incidents;
let server: ServerType;
let base: string;
const seen: EventRecord[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rollgate-incidents-'));
  store = await openStore({ dataDir: dir });
  events = new EventBus(store);
  events.subscribe((e) => seen.push(e));
  incidents = new Incidents(store, events);
  ({ base, server } = await startPartialApi(TOKEN, { store, events, incidents }));
  for (const name of ['shop', 'cart']) await store.upsertApp(name, { run: 'node server.js' });
  await store.upsertEnvironment('production', { listen: 18080 });
  await store.upsertEnvironment('staging', { listen: 18081 });
  await store.upsertEnvironment('live', { listen: 18082, production: true });
});

after(async () => {
  await new Promise<void>((r) => {
    server?.close(() => r());
    (server as unknown as { closeAllConnections?: () => void })?.closeAllConnections?.();
  });
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

async function api<T>(method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as T };
}

type ErrorBody = { error: { code: string; message: string } };

let versionCounter = 0;
/** A finished deployment of `app` in `env` (with its release), as the executor would leave it. */
async function deployment(app: string, env: string, status: DeploymentStatus, over: Partial<DeploymentRecord> = {}): Promise<DeploymentRecord> {
  const version = `v${++versionCounter}`;
  const rel = await store.createRelease({ id: randomUUID(), app, version, contentHash: `sha256:${version}`, artifactDir: `/tmp/${version}`, commitSha: null, commitTime: null, createdBy: 'test' });
  const now = new Date().toISOString();
  return store.createDeployment({
    id: randomUUID(),
    app,
    env,
    kind: 'deploy',
    releaseId: rel.id,
    version,
    previousReleaseId: null,
    previousVersion: null,
    strategy: StrategySpec.parse({ recreate: {} }),
    status,
    state: initialState(now),
    message: status === 'rolled_back' ? 'analysis failed: error rate 12% vs 0.4%' : status === 'failed' ? `${version} could not become healthy` : 'done',
    requestedBy: 'tester',
    startedAt: now,
    finishedAt: now,
    ...over,
  });
}

const eventsOf = (type: string, id: string) => seen.filter((e) => e.type === type && (e.data as { id?: string }).id === id);

describe('incidents from deployments', () => {
  test('a rolled-back production deployment opens one incident (idempotent); staging opens none', async () => {
    const dep = await deployment('shop', 'production', 'rolled_back');
    const inc = await incidents.openForDeployment(dep, 'rollback', dep.message);
    assert.ok(inc);
    assert.equal(inc.source, 'rollback');
    assert.equal(inc.deploymentId, dep.id);
    assert.equal(inc.status, 'open');
    assert.equal(inc.production, true);
    assert.match(inc.title, new RegExp(`shop ${dep.version} rolled back in production: analysis failed`));
    assert.equal(inc.labels.version, dep.version);
    // Again (a retried hook, a resumed server): the same incident, no second event.
    const again = await incidents.openForDeployment(dep, 'rollback', dep.message);
    assert.equal(again?.id, inc.id);
    await incidents.onDeploymentEnded(dep);
    assert.equal((await store.listIncidents({ deploymentId: dep.id })).length, 1);
    assert.equal(eventsOf('incident.opened', inc.id).length, 1);
    assert.equal(eventsOf('incident.opened', inc.id)[0]?.deploymentId, dep.id);

    const staged = await deployment('shop', 'staging', 'failed');
    assert.equal(await incidents.openForDeployment(staged, 'deployment_failed', staged.message), null);
    await incidents.onDeploymentEnded(staged);
    assert.deepEqual(await store.listIncidents({ deploymentId: staged.id }), []);

    // `production: true` makes any environment production.
    const live = await deployment('shop', 'live', 'failed');
    await incidents.onDeploymentEnded(live);
    const [liveInc] = await store.listIncidents({ deploymentId: live.id });
    assert.equal(liveInc?.source, 'deployment_failed');
  });

  test('aborted deployments open nothing; a later successful deployment resolves the open deployment incidents, not alerts', async () => {
    const aborted = await deployment('cart', 'production', 'aborted');
    await incidents.onDeploymentEnded(aborted);
    assert.deepEqual(await store.listIncidents({ deploymentId: aborted.id }), []);

    const bad1 = await deployment('cart', 'production', 'failed');
    const bad2 = await deployment('cart', 'production', 'rolled_back');
    await incidents.onDeploymentEnded(bad1);
    await incidents.onDeploymentEnded(bad2);
    const manual = await incidents.openManual({ app: 'cart', env: 'production', title: 'customers report errors' }, 'user:admin');
    const open = await store.listIncidents({ app: 'cart', env: 'production', status: 'open' });
    assert.equal(open.length, 3);

    const fix = await deployment('cart', 'production', 'succeeded');
    await incidents.onDeploymentEnded(fix);
    const after = await store.listIncidents({ app: 'cart', env: 'production' });
    const byDep = (d: DeploymentRecord) => after.find((i) => i.deploymentId === d.id)!;
    for (const d of [bad1, bad2]) {
      const i = byDep(d);
      assert.equal(i.status, 'resolved');
      assert.equal(i.resolvedByDeploymentId, fix.id);
      assert.equal(i.resolvedBy, `deployment:${fix.id}`);
      assert.match(i.resolution ?? '', new RegExp(`fixed by deployment ${fix.id} of ${fix.version}`));
      assert.ok(i.resolvedAt && i.resolvedAt >= i.openedAt);
      const ev = eventsOf('incident.resolved', i.id);
      assert.equal(ev.length, 1);
      assert.equal(typeof (ev[0]?.data as { durationMs: unknown }).durationMs, 'number');
    }
    assert.equal(after.find((i) => i.id === manual.id)?.status, 'open', 'a manual incident is resolved by a person');
    // Nothing left to resolve: no further events.
    assert.deepEqual(await incidents.resolveForService('cart', 'production', { deploymentId: fix.id }), []);
  });

  test('a successful `rollgate rollback` opens an incident for the deployment it undid', async () => {
    const good = await deployment('shop', 'production', 'succeeded');
    const rollback = await deployment('shop', 'production', 'succeeded', { kind: 'rollback', previousReleaseId: good.releaseId, previousVersion: good.version });
    await incidents.onDeploymentEnded(rollback);
    const [inc] = await store.listIncidents({ deploymentId: good.id });
    assert.equal(inc?.source, 'rollback');
    assert.match(inc?.title ?? '', /rolled back to .* by tester/);
    assert.deepEqual(await store.listIncidents({ deploymentId: rollback.id }), []);
  });

  test('resolveForService by a person resolves the deployment incidents with the reason given', async () => {
    const bad = await deployment('shop', 'live', 'rolled_back');
    const inc = await incidents.openForDeployment(bad, 'rollback', 'x');
    assert.ok(inc);
    const done = await incidents.resolveForService('shop', 'live', { actor: 'ops', resolution: 'config fixed' });
    assert.ok(done.some((i) => i.id === inc.id && i.resolvedBy === 'ops' && i.resolution === 'config fixed'));
  });
});

describe('incidents API', () => {
  test('every route needs the API token', async () => {
    assert.equal((await api('GET', '/v1/incidents', undefined, null)).status, 401);
    assert.equal((await api('POST', '/v1/webhooks/alertmanager', { alerts: [] }, 'wrong')).status, 401);
  });

  test('open by hand, list with durations and filters, resolve once', async () => {
    const opened = await api<IncidentView>('POST', '/v1/incidents', { app: 'shop', env: 'staging', title: ' checkout slow ', severity: 'Minor' });
    assert.equal(opened.status, 201);
    assert.equal(opened.body.source, 'manual');
    assert.equal(opened.body.title, 'checkout slow');
    assert.equal(opened.body.severity, 'minor');
    assert.equal(opened.body.production, false);
    assert.equal(typeof opened.body.durationMs, 'number');
    const id = opened.body.id;

    const list = await api<IncidentView[]>('GET', '/v1/incidents?app=shop&env=staging&status=open');
    assert.deepEqual(list.body.map((i) => i.id), [id]);
    const one = await api<IncidentView>('GET', `/v1/incidents/${id}`);
    assert.equal(one.body.id, id);

    const resolved = await api<IncidentView>('POST', `/v1/incidents/${id}/resolve`, { resolution: 'cache warmed' });
    assert.equal(resolved.status, 200);
    assert.equal(resolved.body.status, 'resolved');
    assert.equal(resolved.body.resolution, 'cache warmed');
    assert.equal(resolved.body.resolvedBy, 'user:admin');
    assert.ok(resolved.body.durationMs >= 0);
    const twice = await api<ErrorBody>('POST', `/v1/incidents/${id}/resolve`, {});
    assert.equal(twice.status, 409);
    assert.match(twice.body.error.message, /already resolved .* by user:admin/);
    assert.deepEqual((await api<IncidentView[]>('GET', '/v1/incidents?app=shop&env=staging&status=open')).body, []);
    assert.ok((await api<IncidentView[]>('GET', '/v1/incidents?app=shop&env=staging&status=resolved')).body.some((i) => i.id === id));
    assert.equal(eventsOf('incident.resolved', id).length, 1);
  });

  test('bad input: clear 4xx, nothing recorded', async () => {
    const before = (await store.listIncidents({ limit: 1000 })).length;
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/v1/incidents', { app: 'nope', env: 'production', title: 'x' }, 404, /unknown app "nope"; known apps: cart, shop/],
      ['POST', '/v1/incidents', { app: 'shop', env: 'mars', title: 'x' }, 404, /unknown environment "mars"/],
      ['POST', '/v1/incidents', { app: 'shop', env: 'production', title: '   ' }, 400, /title: give a title/],
      ['POST', '/v1/incidents', { app: 'shop', env: 'production', title: 'x', severity: 'very bad!' }, 400, /severity "very bad!" is not valid/],
      ['POST', '/v1/incidents', '{oops', 400, /not valid JSON/],
      ['GET', '/v1/incidents?status=closed', undefined, 400, /status/],
      ['GET', '/v1/incidents/inc-000000000000', undefined, 404, /no incident inc-000000000000/],
      ['GET', '/v1/incidents/42', undefined, 400, /not an incident id/],
      ['POST', '/v1/incidents/inc-000000000000/resolve', {}, 404, /no incident/],
    ];
    for (const [method, path, body, status, re] of cases) {
      const r = await api<ErrorBody>(method, path, body);
      assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, re);
    }
    assert.equal((await store.listIncidents({ limit: 1000 })).length, before);
  });
});

// ---- Alertmanager: payloads in the documented webhook format (version 4).

function alert(over: { status?: 'firing' | 'resolved'; labels?: Record<string, string>; annotations?: Record<string, string>; fingerprint?: string | null; startsAt?: string; endsAt?: string }) {
  const a: Record<string, unknown> = {
    status: over.status ?? 'firing',
    labels: over.labels ?? { alertname: 'HighErrorRate', app: 'shop', env: 'production', severity: 'critical', instance: 'shop:8080', job: 'shop' },
    annotations: over.annotations ?? { summary: 'shop answers 12% 5xx', description: 'Error rate above 5% for 2m' },
    startsAt: over.startsAt ?? '2024-05-01T10:00:00.123456789+02:00',
    endsAt: over.endsAt ?? '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example:9090/graph?g0.expr=rate%28errors%5B1m%5D%29',
  };
  if (over.fingerprint !== null) a.fingerprint = over.fingerprint ?? randomBytes(8).toString('hex');
  return a;
}

function notification(alerts: Record<string, unknown>[]) {
  const firing = alerts.some((a) => a.status === 'firing');
  return {
    version: '4',
    groupKey: '{}/{severity="critical"}:{alertname="HighErrorRate"}',
    truncatedAlerts: 0,
    status: firing ? 'firing' : 'resolved',
    receiver: 'rollgate',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: { alertname: 'HighErrorRate' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example:9093',
    alerts,
  };
}

const hook = (payload: unknown) => api<AlertmanagerResponse & ErrorBody>('POST', '/v1/webhooks/alertmanager', payload);

describe('Alertmanager webhook', () => {
  test('firing opens, redelivery changes nothing, resolved resolves at endsAt, stale redeliveries change nothing', async () => {
    const firing = alert({});
    const fp = firing.fingerprint as string;
    const r1 = await hook(notification([firing]));
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    assert.equal(r1.body.opened.length, 1);
    const id = r1.body.opened[0]!;
    const inc = await incidents.get(id);
    assert.equal(inc.source, 'alert');
    assert.equal(inc.fingerprint, fp);
    assert.equal(inc.app, 'shop');
    assert.equal(inc.env, 'production');
    assert.equal(inc.title, 'shop answers 12% 5xx');
    assert.equal(inc.severity, 'critical');
    assert.equal(inc.openedAt, '2024-05-01T08:00:00.123Z', 'opened when the alert started (UTC)');
    assert.equal(inc.labels.alertname, 'HighErrorRate');

    // Alertmanager repeats firing notifications (repeat_interval) and retries failed deliveries.
    const r2 = await hook(notification([firing]));
    assert.deepEqual(r2.body, { opened: [], resolved: [], unchanged: 1 });
    assert.equal((await store.listIncidents({ fingerprint: fp })).length, 1);

    const resolved = { ...firing, status: 'resolved', endsAt: '2024-05-01T10:25:00Z' };
    const r3 = await hook(notification([resolved]));
    assert.deepEqual(r3.body, { opened: [], resolved: [id], unchanged: 0 });
    const done = await incidents.get(id);
    assert.equal(done.status, 'resolved');
    assert.equal(done.resolvedAt, '2024-05-01T10:25:00.000Z');
    assert.equal(done.resolvedBy, 'alertmanager');
    assert.equal(eventsOf('incident.resolved', id).length, 1);

    // The resolved notification again, and a late copy of the old firing one: nothing changes.
    assert.deepEqual((await hook(notification([resolved]))).body, { opened: [], resolved: [], unchanged: 1 });
    assert.deepEqual((await hook(notification([firing]))).body, { opened: [], resolved: [], unchanged: 1 });
    assert.equal((await store.listIncidents({ fingerprint: fp })).length, 1);

    // The same alert firing again later is a new incident.
    const again = await hook(notification([{ ...firing, startsAt: '2024-05-02T09:00:00Z' }]));
    assert.equal(again.body.opened.length, 1);
    assert.notEqual(again.body.opened[0], id);
  });

  test('a group with several alerts: each opens or resolves its own incident; service/environment labels work too', async () => {
    const a = alert({});
    const b = alert({ labels: { alertname: 'HighLatency', service: 'cart', environment: 'production' }, annotations: {} });
    const c = alert({ labels: { alertname: 'Saturation', app: 'cart', env: 'staging', severity: 'page' } });
    const r = await hook(notification([a, b, c]));
    assert.equal(r.status, 200);
    assert.equal(r.body.opened.length, 3);
    const [ia, ib, ic] = await Promise.all(r.body.opened.map((id) => incidents.get(id)));
    assert.equal(ia?.app, 'shop');
    assert.deepEqual([ib?.app, ib?.env, ib?.title, ib?.severity], ['cart', 'production', 'HighLatency', 'warning']);
    assert.deepEqual([ic?.env, ic?.production, ic?.severity], ['staging', false, 'page']);

    // Next notification of the group: b resolved, a and c still firing.
    const r2 = await hook(notification([a, { ...b, status: 'resolved', endsAt: new Date().toISOString() }, c]));
    assert.deepEqual(r2.body, { opened: [], resolved: [ib!.id], unchanged: 2 });
  });

  test('no fingerprint (older Alertmanager): one is derived from the labels, stable across deliveries', async () => {
    const a = alert({ fingerprint: null, labels: { alertname: 'Down', app: 'shop', env: 'live', zone: 'z1' } });
    const r1 = await hook(notification([a]));
    assert.equal(r1.body.opened.length, 1);
    assert.deepEqual((await hook(notification([a]))).body.unchanged, 1);
    const r3 = await hook(notification([{ ...a, status: 'resolved', endsAt: new Date().toISOString() }]));
    assert.deepEqual(r3.body.resolved, r1.body.opened);
  });

  test('missing or unknown app/env labels, or not a payload: 400 naming the alert, and nothing changes', async () => {
    const before = (await store.listIncidents({ limit: 1000 })).length;
    const good = alert({});
    const cases: [unknown, RegExp][] = [
      [notification([good, alert({ labels: { alertname: 'NoApp', env: 'production' }, fingerprint: 'abc123' })]), /alert "NoApp" \(fingerprint abc123\) has no app \(or service\) label; add labels app and env/],
      [notification([alert({ labels: { alertname: 'NoEnv', app: 'shop' } })]), /alert "NoEnv" .* has no env \(or environment\) label/],
      [notification([alert({ labels: { alertname: 'Ghost', app: 'ghost', env: 'production' } })]), /alert "Ghost" .*: unknown app "ghost"; known apps: cart, shop/],
      [notification([alert({ labels: { alertname: 'Weird', app: 'Shop!', env: 'production' } })]), /not Rollgate names/],
      [{ version: '4', status: 'firing' }, /not an Alertmanager webhook payload.*alerts/],
      [notification([{ ...good, startsAt: 'yesterday' }]), /alerts\.0\.startsAt: expected an RFC 3339 time/],
      ['{not json', /not valid JSON/],
    ];
    for (const [payload, re] of cases) {
      const r = await hook(payload);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'invalid_input');
      assert.match(r.body.error.message, re);
    }
    assert.equal((await store.listIncidents({ limit: 1000 })).length, before, 'the valid alert beside a bad one was not opened either');
    // A resolved alert needs no app labels: it is found by its fingerprint (here: none open).
    const r = await hook(notification([alert({ status: 'resolved', labels: { alertname: 'X' }, endsAt: new Date().toISOString() })]));
    assert.deepEqual(r.body, { opened: [], resolved: [], unchanged: 1 });
  });

  test('concurrent redeliveries open exactly one incident', async () => {
    const a = alert({ labels: { alertname: 'Flap', app: 'cart', env: 'live' } });
    const rs = await Promise.all(Array.from({ length: 5 }, () => hook(notification([a]))));
    assert.ok(rs.every((r) => r.status === 200));
    assert.equal(rs.reduce((n, r) => n + r.body.opened.length, 0), 1);
    assert.equal((await store.listIncidents({ fingerprint: a.fingerprint as string })).length, 1);
  });
});
