/**
 * The guard part of bench:flags (issue 11): guarded flag rollouts judged from real traffic.
 *
 * One platform (`rollgate up`, a child process with its agent and router) serves the demo app
 * (2 instances) evaluating its flags through @rollgate/sdk with a server key; this process sends
 * RATE requests/s to it (open loop, keep-alive) and drives the API.
 * - Faulty: flag `new-checkout` fails 10% of the requests served with it on. FAULTY_TRIALS times:
 *   a guarded rollout starts at 10% (steps 10,100 every 10m); detectSeconds is from the rollout's
 *   start (its first step's commit) to the kill's commit; failedRequests counts every failed
 *   request from just before the start until 2 s after the kill (so those served while SDKs
 *   were still learning of the kill count too). The worst trial is reported.
 * - Healthy: HEALTHY_TRIALS guarded rollouts of healthy flags at 10%, BATCH at a time (each
 *   response carries at most 16 flag pairs), each judged for HEALTHY_SECONDS under the same
 *   traffic; falseKills is how many were killed.
 * Run alone (`npm run bench:flags-guard`) it updates the `guard` field of bench/results/flags.json.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { flagsClient } from '../cli/client-flags.js';
import { flagRolloutsClient, type RolloutView } from '../cli/client-flag-rollouts.js';
import { setSecret } from '../cli/client-secrets.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import type { ApiClient } from '../cli/client.js';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import { startPlatform, waitForDeployment } from '../demo/platform.js';
import { LoadGenerator } from '../loadgen/loadgen.js';
import { RESULTS_DIR, machineInfo, writeResult } from './lib/results.js';

const RATE = Number(process.env.BENCH_GUARD_RATE ?? 1000);
const FAULTY_TRIALS = Number(process.env.BENCH_GUARD_FAULTY_TRIALS ?? 5);
const HEALTHY_TRIALS = Number(process.env.BENCH_GUARD_HEALTHY_TRIALS ?? 100);
const BATCH = 10;
const HEALTHY_SECONDS = Number(process.env.BENCH_GUARD_HEALTHY_SECONDS ?? 15);
const FAIL_RATE = 0.1;
const START_PERCENT = 10;

export interface GuardResult {
  detectSeconds: number;
  failedRequests: number;
  healthyTrials: number;
  falseKills: number;
  /** Per faulty trial, in order. */
  faultyTrials: { detectSeconds: number; failedRequests: number; treatmentRequests: number; reason: string }[];
  ratePerSecond: number;
  healthySecondsEach: number;
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

function spec(apps: Record<string, number>, serverUrl: string): unknown {
  const app = { run: 'node server.js', portEnv: 'PORT', replicas: 2, drainTimeout: '2s', healthCheck: { path: '/healthz', interval: '200ms', timeout: '1s', startTimeout: '15s' }, env: { FLAGS_URL: serverUrl } };
  return {
    apps: Object.fromEntries(Object.keys(apps).map((name) => [name, app])),
    environments: Object.fromEntries(Object.entries(apps).map(([name, port]) => [`${name}-env`, { listen: port, production: false, analysis: false }])),
  };
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Deploys `app` (demo app with the SDK) with the given flag failure rates, and a server key for it. */
async function deployApp(admin: ApiClient, work: string, app: string, flags: Record<string, number>): Promise<void> {
  const env = `${app}-env`;
  const { key } = await flagsClient(admin).createKey(app, env, { kind: 'server', name: app });
  await setSecret(admin, app, env, 'FLAGS_KEY', new TextEncoder().encode(key));
  const dir = await makeDemoRelease(join(work, 'releases', app), { version: 'v1', latencyMs: 2, latencyJitterMs: 2, flags }, { withSdk: true });
  await admin.uploadRelease(app, packDir(await checkReleaseDir(dir)), { version: 'v1' });
  const d = await admin.deploy({ app, env, version: 'v1' });
  const done = await waitForDeployment(admin, d.id, 90_000);
  if (done.status !== 'succeeded') throw new Error(`deploying ${app}: ${done.status}: ${done.message}`);
}

async function latest(admin: ApiClient, app: string, flag: string): Promise<RolloutView | undefined> {
  return (await flagRolloutsClient(admin).history(app, `${app}-env`, flag))[0];
}

export async function guardBench(): Promise<GuardResult> {
  const work = await mkdtemp(join(tmpdir(), 'rollgate-bench-guard-'));
  const ports = { faulty: await freePort(), healthy: await freePort() };
  const p = await startPlatform({ dataDir: join(work, '.rollgate'), port: await freePort(), cwd: work, quiet: true });
  const admin = p.client;
  const load: LoadGenerator[] = [];
  try {
    await admin.applySpec(parseYaml(JSON.stringify(spec(ports, p.url))));
    const flags = flagsClient(admin);
    const rollouts = flagRolloutsClient(admin);
    await flags.create('faulty', { name: 'new-checkout', kind: 'release' });
    const healthyNames = Array.from({ length: HEALTHY_TRIALS }, (_, i) => `h${i}`);
    await deployApp(admin, work, 'faulty', { 'new-checkout': FAIL_RATE });
    await deployApp(admin, work, 'healthy', Object.fromEntries(healthyNames.map((n) => [n, 0])));

    // ---- faulty trials
    const lf = new LoadGenerator({ url: `http://127.0.0.1:${ports.faulty}`, ratePerSecond: RATE, durationMs: 15 * 60_000, connections: 64, graceMs: 3000 });
    load.push(lf);
    lf.start();
    await sleep(2000);
    const faultyTrials: GuardResult['faultyTrials'] = [];
    for (let t = 0; t < FAULTY_TRIALS; t++) {
      const phase = `faulty ${t}`;
      lf.setPhase(phase);
      await sleep(200);
      const started = await rollouts.start('faulty', 'faulty-env', 'new-checkout', { steps: [START_PERCENT, 100], every: '10m', guard: true });
      const ended = await until('the guard to kill new-checkout', async () => {
        const r = await latest(admin, 'faulty', 'new-checkout');
        return r && r.id === started.id && r.status !== 'running' ? r : null;
      }, 60_000);
      if (ended.status !== 'failed' || !ended.guard?.killedAt) throw new Error(`trial ${t}: the rollout ended ${ended.status}: ${ended.reason}`);
      await sleep(2000);
      lf.setPhase('between');
      const stats = lf.phaseStats(phase);
      const detectSeconds = (Date.parse(ended.guard.killedAt) - Date.parse(started.createdAt)) / 1000;
      faultyTrials.push({ detectSeconds: round(detectSeconds), failedRequests: stats.failed, treatmentRequests: ended.guard.look?.treatmentRequests ?? 0, reason: ended.reason ?? '' });
      console.log(`guard     faulty trial ${t + 1}: killed after ${round(detectSeconds)} s, ${stats.failed} of ${stats.requests} requests failed (treatment judged on ${ended.guard.look?.treatmentRequests} requests)`);
      await sleep(1000);
    }
    await lf.stop();

    // ---- healthy trials, BATCH at a time
    const lh = new LoadGenerator({ url: `http://127.0.0.1:${ports.healthy}`, ratePerSecond: RATE, durationMs: 30 * 60_000, connections: 64, graceMs: 3000 });
    load.push(lh);
    lh.start();
    let falseKills = 0;
    for (let b = 0; b < healthyNames.length; b += BATCH) {
      const batch = healthyNames.slice(b, b + BATCH);
      for (const name of batch) await flags.create('healthy', { name, kind: 'release' });
      await sleep(1500); // every instance's SDK has the new flags
      for (const name of batch) await rollouts.start('healthy', 'healthy-env', name, { steps: [START_PERCENT, 100], every: '10m', guard: true });
      await sleep(HEALTHY_SECONDS * 1000);
      for (const name of batch) {
        const r = await latest(admin, 'healthy', name);
        if (r?.status === 'failed' && r.guard?.killedAt) {
          falseKills++;
          console.log(`guard     healthy ${name} was killed: ${r.reason}`);
        } else if (r?.status === 'running') {
          if ((r.guard?.look?.treatmentRequests ?? 0) === 0) throw new Error(`healthy ${name}: the guard saw no treatment traffic: ${JSON.stringify(r.guard?.look)}`);
          await rollouts.abort('healthy', 'healthy-env', name, { keep: true });
        } else throw new Error(`healthy ${name}: rollout ${r?.status}: ${r?.reason}`);
        await flags.archive('healthy', name);
      }
      console.log(`guard     healthy ${Math.min(b + BATCH, healthyNames.length)} of ${healthyNames.length}: ${falseKills} killed so far`);
    }
    await lh.stop();
    const worst = (k: 'detectSeconds' | 'failedRequests') => Math.max(...faultyTrials.map((t) => t[k]));
    return { detectSeconds: worst('detectSeconds'), failedRequests: worst('failedRequests'), healthyTrials: healthyNames.length, falseKills, faultyTrials, ratePerSecond: RATE, healthySecondsEach: HEALTHY_SECONDS };
  } finally {
    for (const l of load) await l.stop().catch(() => undefined);
    await p.stop();
    await rm(work, { recursive: true, force: true });
  }
}

export const GUARD_NOTE = `worst of the faulty trials: a flag whose on side fails ${FAIL_RATE * 100}% of its requests, guarded rollout at ${START_PERCENT}% of ~${RATE} req/s to the demo app (2 instances, @rollgate/sdk in the app, the Rollgate router in front); detectSeconds from the rollout's first step to the kill, failedRequests from before the start to 2 s after the kill; healthy: guarded rollouts of healthy flags under the same traffic, ${BATCH} at a time, each judged for a fixed time`;

async function main(): Promise<void> {
  const guard = await guardBench();
  const path = join(RESULTS_DIR, 'flags.json');
  const prev = JSON.parse(await readFile(path, 'utf8').catch(() => '{}')) as Record<string, unknown> & { notes?: Record<string, string> };
  const out = { ...prev, guard, notes: { ...(prev.notes ?? {}), guard: GUARD_NOTE }, guardMeasuredAt: new Date().toISOString(), guardMachine: machineInfo() };
  console.log(`guard     killed within ${guard.detectSeconds} s with ${guard.failedRequests} failed (worst of ${guard.faultyTrials.length}); ${guard.falseKills} of ${guard.healthyTrials} healthy killed`);
  console.log(`wrote ${await writeResult('flags', out)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
