/**
 * A server that died after recording a deployment's end but before its end hooks ran (incident,
 * notifications) runs them at its next start: nothing recorded is lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgent } from '../agent/main.js';
import { StrategySpec } from '../core/spec.js';
import { openStore } from '../store/index.js';
import { initialState } from './deployments.js';
import { silentLogger } from './logger.js';
import { runServer } from '../server/main.js';

test('end hooks that never ran (server killed in between) run at the next start, once', async () => {
  const work = await mkdtemp(join(tmpdir(), 'rollgate-endhooks-'));
  const dataDir = join(work, 'server');
  try {
    const store = await openStore({ dataDir });
    await store.upsertApp('shop', { run: 'node server.js' });
    await store.upsertEnvironment('production', { listen: 1 });
    const now = new Date().toISOString();
    for (const v of ['v1', 'v2']) await store.createRelease({ id: `rel-${v}`, app: 'shop', version: v, contentHash: v.repeat(32), artifactDir: '/nowhere', commitSha: null, commitTime: null, createdBy: 'test' });
    const id = randomUUID();
    await store.createDeployment({
      id,
      app: 'shop',
      env: 'production',
      kind: 'deploy',
      releaseId: 'rel-v2',
      version: 'v2',
      previousReleaseId: 'rel-v1',
      previousVersion: 'v1',
      strategy: StrategySpec.parse({ canary: {} }),
      status: 'rolled_back',
      state: { ...initialState(now), endHandled: false },
      message: 'analysis failed: error-rate',
      requestedBy: 'test',
      startedAt: now,
      finishedAt: now,
    });
    await store.close();

    const agent = await runAgent({ dataDir: join(work, 'agent'), log: () => {} });
    const incidentsOf = async (url: string, token: string) => {
      const res = await fetch(`${url}/v1/incidents?app=shop&env=production`, { headers: { authorization: `Bearer ${token}` } });
      return (await res.json()) as { deploymentId: string; source: string }[];
    };
    try {
      for (let round = 0; round < 2; round++) {
        const server = await runServer({ dataDir, port: 0, agent: { url: agent.url, token: agent.token }, log: silentLogger });
        try {
          const list = await incidentsOf(server.url, server.token!);
          assert.deepEqual(list.map((i) => [i.deploymentId, i.source]), [[id, 'rollback']], `round ${round}`);
          const res = await fetch(`${server.url}/v1/deployments/${id}`, { headers: { authorization: `Bearer ${server.token}` } });
          assert.equal(((await res.json()) as { state: { endHandled: boolean } }).state.endHandled, true);
        } finally {
          await server.stop();
        }
      }
    } finally {
      await agent.stop();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
