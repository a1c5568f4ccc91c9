import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { registerDoraRoutes } from '../api/routes-dora.js';
import type { ApiEnv } from '../api/http.js';
import type { DeploymentStatus } from '../core/domain.js';
import { isRollgateError } from '../core/errors.js';
import { StrategySpec } from '../core/spec.js';
import { initialState } from '../engine/deployments.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import type { DoraResult } from './load.js';
import { doraTable } from '../cli/commands/dora.js';

let dir: string;
let store: Store;
let app: Hono<ApiEnv>;
const NOW = new Date('2024-03-31T00:00:00Z');

async function deploy(env: string, version: string, status: DeploymentStatus, finishedAt: string, commitTime: string | null) {
  const rel = await store.createRelease({ id: randomUUID(), app: 'shop', version, contentHash: `sha256:${version}`, artifactDir: `/tmp/${version}`, commitSha: null, commitTime, createdBy: 'test' });
  return store.createDeployment({
    id: randomUUID(),
    app: 'shop',
    env,
    kind: 'deploy',
    releaseId: rel.id,
    version,
    previousReleaseId: null,
    previousVersion: null,
    strategy: StrategySpec.parse({ recreate: {} }),
    status,
    state: initialState(finishedAt),
    message: 'done',
    requestedBy: 'tester',
    startedAt: finishedAt,
    finishedAt,
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollgate-dora-api-'));
  store = await openStore({ dataDir: dir });
  await store.upsertApp('shop', {});
  await store.upsertEnvironment('production', { listen: 1 });
  await store.upsertEnvironment('live', { listen: 2, production: true });
  await store.upsertEnvironment('staging', { listen: 3 });
  await deploy('production', 'v1', 'succeeded', '2024-03-01T02:00:00Z', '2024-03-01T00:00:00Z'); // 2h
  const bad = await deploy('live', 'v2', 'rolled_back', '2024-03-02T00:00:00Z', '2024-03-01T12:00:00Z');
  await deploy('live', 'v3', 'succeeded', '2024-03-03T00:00:00Z', '2024-03-02T00:00:00Z'); // 1 day
  await deploy('staging', 'v4', 'succeeded', '2024-03-04T00:00:00Z', '2024-03-01T00:00:00Z');
  await deploy('production', 'v0', 'succeeded', '2023-11-01T00:00:00Z', null); // outside 90d
  const { incident } = await store.createIncident({ id: 'inc-0000000000a1', app: 'shop', env: 'live', production: true, deploymentId: bad.id, source: 'rollback', title: 'rolled back', severity: 'major', openedAt: '2024-03-02T00:00:00Z', fingerprint: null, labels: {} });
  await store.resolveIncident(incident.id, { resolvedAt: '2024-03-02T00:30:00Z', resolvedBy: 'tester', resolvedByDeploymentId: null, resolution: 'ok' });

  app = new Hono<ApiEnv>();
  app.onError((err, c) => (isRollgateError(err) ? c.json(err.toJSON(), err.status as 400) : c.json({ error: { code: 'internal', message: err.message } }, 500)));
  registerDoraRoutes(app, { store, now: () => NOW });
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /v1/dora', () => {
  test('every production environment by default, over 90 days', async () => {
    const res = await app.request('/v1/dora?app=shop');
    assert.equal(res.status, 200);
    const r = (await res.json()) as DoraResult;
    assert.deepEqual(r.productionEnvironments, ['live', 'production']);
    assert.equal(r.window.since, '2024-01-01T00:00:00.000Z');
    assert.equal(r.window.days, 90);
    assert.equal(r.deploymentFrequency.count, 2);
    assert.deepEqual([r.leadTimeForChanges.medianSeconds, r.leadTimeForChanges.samples], [(2 * 3600 + 86_400) / 2, 2]);
    assert.deepEqual([r.changeFailureRate.failed, r.changeFailureRate.total], [1, 3]);
    assert.deepEqual([r.failedDeploymentRecoveryTime.medianSeconds, r.failedDeploymentRecoveryTime.tier], [1800, 'elite']);
    assert.deepEqual(r.warnings, []);
    // The CLI's table: one row per metric with its tier.
    const text = doraTable(r);
    assert.match(text, /shop in production \(live, production\)/);
    assert.match(text, /change failure rate\s+33\.3%\s+low\s+1 of 3 deployments/);
    assert.match(text, /failed deployment recovery\s+30m 00s median\s+elite/);
    assert.match(text, /rework rate\s+0%\s+-/);
  });

  test('one environment and a date', async () => {
    const r = (await (await app.request('/v1/dora?env=staging&since=2024-03-01')).json()) as DoraResult;
    assert.equal(r.window.env, 'staging');
    assert.equal(r.deploymentFrequency.count, 1);
    assert.equal(r.changeFailureRate.total, 1);
    assert.deepEqual(r.productionEnvironments, [], 'staging is not production');
    const live = (await (await app.request('/v1/dora?env=live')).json()) as DoraResult;
    assert.deepEqual(live.productionEnvironments, ['live'], 'the environment asked for, named when it counts as production');
  });

  test('a bad since or app is a 400 saying what to write', async () => {
    for (const q of ['since=soon', 'since=0d', 'app=Bad_Name', 'since=2099-01-01']) {
      const res = await app.request(`/v1/dora?${q}`);
      assert.equal(res.status, 400, q);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'invalid_input');
      assert.match(body.error.message, /since|app/);
    }
  });
});
