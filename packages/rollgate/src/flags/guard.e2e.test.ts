/**
 * Guarded flag rollouts end to end: a real agent and router, the demo app evaluating its flags
 * through @rollgate/sdk (shipped in its release) against the real server with a server key,
 * tagging every response with the variants it served, and real traffic. A flag whose `on` side
 * fails 30% of its requests is killed by its guard by itself (flag off, rollout failed, the kill
 * on the trail, an incident opened) and its failures stop once the SDKs see the kill; a healthy
 * flag guarded at the same time keeps going, judged from the router's counts. An app run behind
 * no Rollgate router (started by the test itself) is judged from the outcomes its SDK reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from '../cli/client.js';
import { flagsClient } from '../cli/client-flags.js';
import { flagRolloutsClient } from '../cli/client-flag-rollouts.js';
import { setSecret } from '../cli/client-secrets.js';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import type { LoadGenerator } from '../loadgen/loadgen.js';
import type { RunningServer } from '../server/main.js';
import { startDemoKit, type DemoKit } from '../test/demo-kit.js';
import type { RolloutView } from './rollouts.js';

let kit: DemoKit;
let server: RunningServer;
let admin: ApiClient;
let load: LoadGenerator;
let edgeApp: ChildProcess | null = null;

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('guarded flag rollouts (real router, real SDK in the app)', () => {
  before(async () => {
    const port = await freePort();
    const edge = await freePort();
    kit = await startDemoKit('flag-guard', (url) => ({
      apps: { demo: { run: 'node server.js', replicas: 2, drainTimeout: '2s', healthCheck: { path: '/healthz', interval: '200ms', timeout: '1s', startTimeout: '15s' }, env: { FLAGS_URL: url } } },
      environments: { staging: { listen: port, production: false, analysis: false }, edge: { listen: edge, production: false, analysis: false } },
    }));
    ({ server, client: admin } = kit);
    const flags = flagsClient(admin);
    for (const name of ['new-checkout', 'new-search']) await flags.create('demo', { name, kind: 'release', owner: 'team-shop' });
    const { key } = await flags.createKey('demo', 'staging', { kind: 'server', name: 'demo-app' });
    await setSecret(admin, 'demo', 'staging', 'FLAGS_KEY', new TextEncoder().encode(key));
    await kit.release({ version: 'v1', latencyMs: 2, flags: { 'new-checkout': 0.3, 'new-search': 0 } }, { withSdk: true });
    const done = await kit.deployAndWait('staging', 'v1');
    assert.equal(done.status, 'succeeded', done.message);
    load = kit.load({ port, ratePerSecond: 300, durationMs: 120_000, connections: 32 });
  });

  after(async () => {
    edgeApp?.kill('SIGKILL');
    await kit?.stop();
  });

  test('a failing flag is killed by its guard; a healthy one guarded beside it goes on', async () => {
    const rollouts = flagRolloutsClient(admin);
    const faulty = await rollouts.start('demo', 'staging', 'new-checkout', { steps: [20, 50, 100], every: '5m', guard: true });
    const healthy = await rollouts.start('demo', 'staging', 'new-search', { steps: [20, 50, 100], every: '5m', guard: true });
    assert.deepEqual([faulty.guard?.treatment, faulty.guard?.control, faulty.guard?.safe], [['on'], ['off'], 'off']);

    const killed = await until<RolloutView>('the guard to kill new-checkout', async () => {
      const [r] = await rollouts.history('demo', 'staging', 'new-checkout');
      return r && r.status !== 'running' ? r : null;
    });
    assert.equal(killed.status, 'failed', killed.reason ?? '');
    assert.match(killed.reason ?? '', /^killed by its guard: flag new-checkout: on vs off: error-rate/);
    assert.ok(killed.guard?.killedAt, 'the kill time is on the rollout');
    assert.equal(killed.guard?.look?.evidence, 'router');
    assert.equal(killed.guard?.look?.verdict, 'fail');
    assert.ok((killed.guard?.look?.treatmentErrors ?? 0) > 0, JSON.stringify(killed.guard?.look));

    // The safe value: the flag is off in staging, and the change is the guard's, on the trail.
    const state = await flagsClient(admin).state('demo', 'staging');
    assert.equal(state.state.features.find((f) => f.name === 'new-checkout')?.enabled, false);
    const audit = await admin.request<{ action: string; actor: string; before: unknown; after: unknown }[]>('GET', '/v1/audit', { query: { action: 'flag.rollout.guard-kill' } });
    const entry = audit.find((e) => e.action === 'flag.rollout.guard-kill');
    assert.ok(entry, 'the kill is on the audit trail');
    assert.match(entry.actor, new RegExp(`^system \\(guard of rollout ${faulty.id}`));
    assert.ok(entry.before && entry.after, 'with before and after');

    const incidents = await admin.request<{ labels: Record<string, string>; title: string; status: string }[]>('GET', '/v1/incidents', { query: { app: 'demo', env: 'staging' } });
    const inc = incidents.find((i) => i.labels.rollout === faulty.id);
    assert.ok(inc, `an incident names the rollout: ${JSON.stringify(incidents)}`);
    assert.equal(inc.status, 'open');
    assert.match(inc.title, /flag new-checkout of demo killed by its guard in staging/);

    // Once every instance's SDK has the kill (streamed), no request fails any more.
    await sleep(1500);
    load.setPhase('after the kill');
    await sleep(2000);
    const after = load.phaseStats('after the kill');
    assert.ok(after.requests > 100, `traffic went on: ${after.requests}`);
    assert.equal(after.failed, 0, `requests still failed after the kill: ${JSON.stringify(after.reasons)}`);

    // The healthy flag, judged all along from the router's counts, is still rolling out.
    const [h] = await rollouts.history('demo', 'staging', 'new-search');
    assert.equal(h!.id, healthy.id);
    assert.equal(h!.status, 'running', h!.reason ?? '');
    await until('the healthy guard to save a look with traffic on both sides', async () => {
      const [x] = await rollouts.history('demo', 'staging', 'new-search');
      const l = x?.guard?.look;
      return l && l.evidence === 'router' && l.treatmentRequests > 0 && l.controlRequests > 0 && l.verdict !== 'fail' ? l : null;
    }, 10_000);
  });

  test('an app behind another proxy: judged from the outcomes its SDK reports, and killed', async () => {
    // The demo app run by the test itself, not by the agent: no Rollgate router counts its responses.
    const flags = flagsClient(admin);
    await flags.create('demo', { name: 'edge-checkout', kind: 'release' });
    const { key } = await flags.createKey('demo', 'edge', { kind: 'server', name: 'edge-app' });
    const dir = await makeDemoRelease(join(kit.work, 'edge-release'), { version: 'edge', latencyMs: 2, flags: { 'edge-checkout': 0.3 } }, { withSdk: true });
    const appPort = await freePort();
    edgeApp = spawn(process.execPath, ['server.js'], { cwd: dir, env: { ...process.env, PORT: String(appPort), FLAGS_URL: server.url, FLAGS_KEY: key }, stdio: 'ignore' });
    await until('the edge app to listen', () => fetch(`http://127.0.0.1:${appPort}/healthz`).then((r) => r.ok, () => false), 15_000);
    kit.load({ port: appPort, ratePerSecond: 300, durationMs: 60_000, connections: 16 });
    const rollouts = flagRolloutsClient(admin);
    const r = await rollouts.start('demo', 'edge', 'edge-checkout', { steps: [20, 100], every: '5m', guard: true });
    const killed = await until<RolloutView>('the guard to kill edge-checkout', async () => {
      const [x] = await rollouts.history('demo', 'edge', 'edge-checkout');
      return x && x.status !== 'running' ? x : null;
    });
    assert.equal(killed.id, r.id);
    assert.equal(killed.status, 'failed', killed.reason ?? '');
    assert.equal(killed.guard?.look?.evidence, 'sdk', JSON.stringify(killed.guard?.look));
    assert.match(killed.reason ?? '', /^killed by its guard: flag edge-checkout: on vs off: error-rate/);
    const state = await flags.state('demo', 'edge');
    assert.equal(state.state.features.find((f) => f.name === 'edge-checkout')?.enabled, false);
  });
});
