/**
 * Resource metrics in a canary's analysis, end to end: real server, real agent (with the
 * isolation this machine has), real demo-app processes, real traffic. A canary that leaks memory
 * or burns far more CPU per request than the stable version is rolled back, the reason naming the
 * metric; a healthy one passes; `rollgate status` carries each instance's CPU and memory.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiClient } from '../cli/client.js';
import { instanceResourceTable } from '../cli/resources-format.js';
import { freePort } from '../demo/fixtures.js';
import type { LoadGenerator } from '../loadgen/loadgen.js';
import { startDemoKit, type DemoKit } from '../test/demo-kit.js';

let kit: DemoKit;
let client: ApiClient;
let load: LoadGenerator;

const spec = (port: number) => `apps:
  demo:
    run: node server.js
    replicas: 2
    drainTimeout: 2s
    healthCheck: { path: /healthz, interval: 200ms, timeout: 1s, startTimeout: 15s }
environments:
  production:
    listen: ${port}
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: { duration: 6s }
        abortScaleDownDelay: 1s
        analysis:
          metrics:
            - name: error-rate
              builtin: { metric: errorRate }
            - name: memory-growth
              builtin: { metric: memoryGrowth }
            - name: cpu-per-request
              builtin: { metric: cpuPerRequest, factor: 2 }
`;

before(async () => {
  const port = await freePort();
  kit = await startDemoKit('resources', spec(port));
  client = kit.client;
  await kit.release({ version: 'v1', latencyMs: 2 });
  await kit.release({ version: 'leaky', latencyMs: 2, leakBytesPerRequest: 64 * 1024 });
  await kit.release({ version: 'hungry', latencyMs: 2, cpuSpinMsPerRequest: 4 });
  await kit.release({ version: 'v2', latencyMs: 2 });
  assert.equal((await kit.deployAndWait('production', 'v1')).status, 'succeeded');
  load = kit.load({ port, ratePerSecond: 200, durationMs: 5 * 60_000, connections: 16 });
});

after(async () => {
  await kit?.stop();
});

const canaryOf = (version: string) => kit.deployAndWait('production', version, 90_000);

describe('resource metrics in a canary analysis', { timeout: 240_000 }, () => {
  test('status carries each instance CPU and resident memory (and --json the numbers)', async () => {
    let services = await client.status({ app: 'demo', env: 'production' });
    for (let i = 0; i < 100 && !services[0]?.versions[0]?.instances.every((x) => x.resources?.cpuPercent != null); i++) {
      await new Promise((r) => setTimeout(r, 100));
      services = await client.status({ app: 'demo', env: 'production' });
    }
    const inst = services[0]!.versions.find((v) => v.version === 'v1')!.instances;
    assert.equal(inst.length, 2);
    for (const i of inst) {
      assert.ok(i.resources, `instance ${i.id} has no sample`);
      assert.ok(i.resources.rssBytes > 10 * 1024 * 1024, `rss ${i.resources.rssBytes}`);
      assert.ok(i.resources.cpuSeconds > 0);
    }
    const text = instanceResourceTable(services).join('\n');
    assert.match(text, /INSTANCE\s+VERSION\s+STATE\s+CPU\s+RSS/);
    assert.match(text, new RegExp(`${inst[0]!.id.replace(/[.+]/g, '\\$&')}\\s+v1\\s+ready\\s+\\d+\\.\\d%\\s+\\d+\\.\\d MiB`));
  });

  for (const [version, metric] of [
    ['leaky', /memory-growth: canary memory grows/],
    ['hungry', /cpu-per-request: canary uses [\d.]+ ms CPU per request/],
  ] as const) {
    test(`a ${version} canary is rolled back by its analysis, the reason naming the metric`, async (t) => {
      const done = await canaryOf(version);
      t.diagnostic(done.message);
      assert.equal(done.status, 'rolled_back', done.message);
      assert.match(done.message, /analysis failed/);
      assert.match(done.message, metric);
      const [st] = await client.status({ app: 'demo', env: 'production' });
      assert.equal(st?.currentVersion, 'v1');
    });
  }

  test('a healthy canary passes the same analysis and is promoted', async (t) => {
    const done = await canaryOf('v2');
    for (const m of done.state.analysis?.metrics ?? []) t.diagnostic(`${m.name} ${m.verdict}: ${m.reason}`);
    assert.equal(done.status, 'succeeded', done.message);
    const names = done.state.analysis?.metrics.map((m) => `${m.name}=${m.verdict}`) ?? [];
    assert.ok(names.includes('memory-growth=pass') && names.includes('cpu-per-request=pass'), names.join(', '));
  });
});
