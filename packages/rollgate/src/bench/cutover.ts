/**
 * bench:cutover — do users see failures while traffic moves between versions?
 *
 * One platform (`rollgate up`, a real child process with its agent) serves the demo app with 3
 * replicas. An open-loop generator sends >= 1,000 requests/s over keep-alive connections, 5% of
 * them slow (1-2 s), for a fixed window per scenario while one deployment runs inside it:
 * rolling, blue-green, canary to 100%, rollback, a canary during which the server is killed
 * with SIGKILL and restarted, and a naive baseline (stop old, start new: the recreate strategy)
 * that must show failures, proving the harness sees them.
 * Writes bench/results/cutover.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import type { DeploymentView } from '../api/contract.js';
import { LoadGenerator } from '../loadgen/loadgen.js';
import { REPO_ROOT, freePort, makeDemoRelease } from '../demo/fixtures.js';
import { startPlatform, waitForDeployment, type Platform } from '../demo/platform.js';

const RATE = Number(process.env.CUTOVER_RATE ?? 1100);
const WINDOW_MS = Number(process.env.CUTOVER_WINDOW_MS ?? 62_000);
const SLOW_SHARE = 0.05;

interface Outcome {
  requests: number;
  failed: number;
  deployment: string;
  reasons: Record<string, number>;
  deploySeconds: number;
}

function spec(prodPort: number): string {
  return `apps:
  demo:
    run: node server.js
    replicas: 3
    drainTimeout: 5s
    healthCheck: { path: /healthz, interval: 200ms, timeout: 1s, startTimeout: 20s }
environments:
  production:
    listen: ${prodPort}
    progressDeadline: 2m
    strategy:
      canary:
        steps:
          - setWeight: 25
          - pause: { duration: 5s }
          - setWeight: 50
          - pause: { duration: 5s }
          - setWeight: 75
          - pause: { duration: 5s }
        scaleDownDelay: 60s
`;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'rollgate-cutover-'));
  const dataDir = join(work, '.rollgate');
  const prodPort = await freePort();
  const apiPort = await freePort();
  const specText = spec(prodPort);
  await writeFile(join(work, 'rollgate.yaml'), specText);
  let p: Platform = await startPlatform({ dataDir, port: apiPort, cwd: work, quiet: true });
  const results: Record<string, Outcome> = {};
  const load = new LoadGenerator({ url: `http://127.0.0.1:${prodPort}`, ratePerSecond: RATE, slowShare: SLOW_SHARE, durationMs: 20 * 60_000, connections: 128, graceMs: 5000 });
  try {
    await p.client.applySpec(parseYaml(specText));
    const versions = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7'];
    for (const v of versions) {
      const dir = await makeDemoRelease(join(work, 'releases'), { version: v, latencyMs: 1 });
      await p.client.uploadRelease('demo', packDir(await checkReleaseDir(dir)), { version: v });
    }
    const first = await p.client.deploy({ app: 'demo', env: 'production', version: 'v1' });
    const ok = await waitForDeployment(p.client, first.id);
    if (ok.status !== 'succeeded') throw new Error(`first deployment ${ok.status}: ${ok.message}`);

    load.setPhase('warmup');
    load.start();
    await sleep(3000);

    const scenario = async (name: string, start: () => Promise<DeploymentView>, during?: (d: DeploymentView) => Promise<void>) => {
      load.setPhase(name);
      const t0 = Date.now();
      await sleep(2000); // steady traffic before the change
      const tDeploy = Date.now();
      const d = await start();
      if (during) await during(d);
      const done = await waitForDeployment(p.client, d.id, 180_000);
      const deploySeconds = (Date.now() - tDeploy) / 1000;
      // Keep the window the same for every scenario so request counts compare.
      await sleep(Math.max(0, WINDOW_MS - (Date.now() - t0)));
      load.setPhase(`${name}:after`);
      await sleep(2500); // slow requests of the window finish and get counted
      const s = load.phaseStats(name);
      results[name] = { requests: s.requests, failed: s.failed, deployment: done.status, reasons: s.reasons, deploySeconds };
      process.stdout.write(`${name.padEnd(10)} ${done.status.padEnd(10)} requests ${String(s.requests).padStart(7)}  failed ${String(s.failed).padStart(5)}  deploy ${deploySeconds.toFixed(1)}s ${s.failed ? JSON.stringify(s.reasons) : ''}\n`);
    };

    await scenario('rolling', () => p.client.deploy({ app: 'demo', env: 'production', version: 'v2', strategy: 'rolling' }));
    await scenario('blueGreen', () => p.client.deploy({ app: 'demo', env: 'production', version: 'v3', strategy: 'blue-green' }));
    await scenario('canary', () => p.client.deploy({ app: 'demo', env: 'production', version: 'v4', strategy: 'canary' }));
    await scenario('rollback', () => p.client.rollback({ app: 'demo', env: 'production' }));
    await scenario('serverKill', () => p.client.deploy({ app: 'demo', env: 'production', version: 'v5', strategy: 'canary' }), async (d) => {
      await waitForDeployment(p.client, d.id, 60_000, (x) => x.state.stepIndex >= 1);
      p.process.kill('SIGKILL'); // the agent, a separate process, keeps serving
      await sleep(3000);
      p = await startPlatform({ dataDir, port: apiPort, cwd: work, quiet: true });
    });
    await scenario('baseline', () => p.client.deploy({ app: 'demo', env: 'production', version: 'v6', strategy: 'recreate' }));
  } finally {
    await load.stop();
    await p.stop();
    await rm(work, { recursive: true, force: true });
  }

  const pick = (o: Outcome | undefined) => ({ requests: o?.requests ?? 0, failed: o?.failed ?? 0, deployment: o?.deployment ?? 'missing', deploySeconds: o?.deploySeconds ?? 0, failureReasons: o?.reasons ?? {} });
  const out = {
    scenarios: { rolling: pick(results.rolling), blueGreen: pick(results.blueGreen), canary: pick(results.canary), rollback: pick(results.rollback), serverKill: pick(results.serverKill) },
    baseline: { ...pick(results.baseline), strategy: 'recreate (stop old, start new)' },
    load: { ratePerSecond: RATE, windowSeconds: WINDOW_MS / 1000, slowShare: SLOW_SHARE, slowMs: [1000, 2000], keepAlive: true, replicas: 3 },
    machine: { cores: cpus().length, node: process.version },
    measuredAt: new Date().toISOString(),
  };
  await mkdir(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(join(REPO_ROOT, 'bench', 'results', 'cutover.json'), JSON.stringify(out, null, 2) + '\n');
  const zero = Object.values(out.scenarios).every((s) => s.failed === 0 && s.deployment === 'succeeded');
  process.stdout.write(`\nwrote bench/results/cutover.json — ${zero ? 'no failed request in any scenario' : 'FAILURES in some scenario'}; baseline failed ${out.baseline.failed}\n`);
  if (!zero || out.baseline.failed === 0) process.exitCode = 1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().catch((e: Error) => {
  process.stderr.write(`bench:cutover failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
