import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceStatus } from '../../api/contract.js';
import type { ApiClient } from '../client.js';
import { UsageError } from '../exit.js';
import { appFor, chaosTable, describeFault } from './chaos.js';
import { incidentTable } from './incidents.js';

function clientWith(services: { app: string; env: string }[]): ApiClient {
  const status = async (q: { env?: string | undefined }) => services.filter((s) => s.env === q.env) as unknown as ServiceStatus[];
  return { status } as unknown as ApiClient;
}

describe('chaos CLI helpers', () => {
  test('APP defaults to the only app in the environment, else a clear usage error', async () => {
    const c = clientWith([{ app: 'shop', env: 'production' }, { app: 'shop', env: 'staging' }, { app: 'cart', env: 'staging' }]);
    assert.equal(await appFor(c, undefined, 'production'), 'shop');
    assert.equal(await appFor(c, 'cart', 'production'), 'cart');
    await assert.rejects(appFor(c, undefined, 'staging'), (e: unknown) => e instanceof UsageError && /staging runs several apps \(cart, shop\); name the one/.test(e.message));
    await assert.rejects(appFor(c, undefined, 'qa'), (e: unknown) => e instanceof UsageError && /no app runs in qa/.test(e.message));
    await assert.rejects(appFor(c, 'Bad!', 'qa'), (e: unknown) => e instanceof UsageError && /app "Bad!"/.test(e.message));
  });

  test('faults and tables read plainly', () => {
    assert.equal(describeFault({ errorRate: 0.2, latencyMs: 200 }), '20% of requests fail (503), +200ms per request');
    assert.equal(describeFault({ errorRate: 0.005, latencyMs: 0 }), '0.5% of requests fail (503)');
    const t = chaosTable([{ id: 'chaos-0123456789ab', app: 'shop', env: 'production', version: 'v2', kind: 'fault', errorRate: 0.2, latencyMs: 200, status: 'active', startedAt: '2024-05-01T10:00:00.000Z', endsAt: '2024-05-01T10:01:00.000Z', stoppedAt: null, actor: 'me', detail: null }]);
    assert.match(t, /^ID\s+APP\s+ENV\s+VERSION\s+FAULT/);
    assert.match(t, /chaos-0123456789ab\s+shop\s+production\s+v2\s+20% \+200ms\s+active\s+2024-05-01 10:00:00Z\s+2024-05-01 10:01:00Z\s+me/);
    const i = incidentTable([
      { id: 'inc-0123456789ab', app: 'shop', env: 'production', production: true, deploymentId: 'd', source: 'deployment_failed', title: 'shop v2 failed', severity: 'major', status: 'resolved', openedAt: '2024-05-01T10:00:00.000Z', resolvedAt: '2024-05-01T10:12:05.000Z', resolvedBy: 'x', resolvedByDeploymentId: null, resolution: 'r', fingerprint: null, labels: {}, createdAt: '', updatedAt: '', durationMs: 725_000 },
      { id: 'inc-0123456789ac', app: 'shop', env: 'production', production: true, deploymentId: null, source: 'alert', title: 'x'.repeat(100), severity: 'critical', status: 'open', openedAt: '2024-05-01T11:00:00.000Z', resolvedAt: null, resolvedBy: null, resolvedByDeploymentId: null, resolution: null, fingerprint: 'f', labels: {}, createdAt: '', updatedAt: '', durationMs: 5000 },
    ]);
    assert.match(i, /inc-0123456789ab\s+shop\s+production\s+deployment failed\s+major\s+resolved\s+2024-05-01 10:00:00Z\s+12m 05s\s+shop v2 failed/);
    assert.match(i, /open\s+2024-05-01 11:00:00Z\s+5s so far\s+x{69}…$/m);
  });
});
