/**
 * bench:pipeline — what does the pipeline runner cost, and how many runs does it carry at once?
 *
 * overhead:   a pipeline of 10 `run` stages of `true`, against the same 10 commands run one after
 *             another by a shell script (each in its own `sh -c`, as the stages are), interleaved,
 *             TRIALS times each. The pipeline's time is the server's own: run started -> finished.
 *             overheadMsPerStage = median(pipeline - script) / 10.
 * concurrent: 50 runs started at once for 10 apps (5 each), each a build stage and a deploy of
 *             its own release to one local environment (rolling, real instances of the demo
 *             app). Deploys of one app queue; apps go side by side. Meanwhile a probe reads the
 *             API (run list, one run, status) 20 times a second: apiP99Ms is its p99 latency.
 * Writes bench/results/pipeline.json.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ApiClient } from '../cli/client.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { REPO_ROOT, freePort, makeDemoRelease } from '../demo/fixtures.js';
import { startPlatform } from '../demo/platform.js';
import type { RunView } from '../engine/pipeline/pipelines.js';
import { machineInfo, printTable, writeResult } from './lib/results.js';

const exec = promisify(execFile);
const TRIALS = Number(process.env.PIPELINE_TRIALS ?? 9);
const RUNS = Number(process.env.PIPELINE_RUNS ?? 50);
const APPS = Number(process.env.PIPELINE_APPS ?? 10);
const STAGES = 10;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0;
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function waitEnded(client: ApiClient, id: string, timeoutMs = 300_000): Promise<RunView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await client.run(id);
    if (!['queued', 'running', 'waiting'].includes(v.status)) return v;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${v.status} after ${timeoutMs} ms: ${v.message}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'rollgate-bench-pipeline-'));
  const platform = await startPlatform({ dataDir: join(work, '.rollgate'), port: await freePort(), cwd: REPO_ROOT, quiet: true });
  try {
    const client = platform.client;
    const envPort = await freePort();
    const apps = Array.from({ length: APPS }, (_, i) => `app${i}`);
    const appSpec = { run: 'node server.js', replicas: 1, drainTimeout: '1s', healthCheck: { path: '/healthz', interval: '100ms', timeout: '1s' } };
    await client.applySpec({
      apps: Object.fromEntries(apps.map((a) => [a, appSpec])),
      environments: { local: { listen: envPort, analysis: false, strategy: { rolling: { analysis: false } } } },
      pipelines: {
        ten: { app: 'app0', stages: Array.from({ length: STAGES }, (_, i) => ({ name: `s${i}`, run: { command: 'true' } })) },
        ...Object.fromEntries(apps.map((a) => [`rel-${a}`, { app: a, stages: [{ name: 'build', run: { command: 'echo build' } }, { name: 'deploy', deploy: { env: 'local' } }] }])),
      },
    });

    // ---- overhead
    const empty = await makeDemoRelease(work, { version: 'empty' });
    const script = join(work, 'ten.sh');
    await writeFile(script, Array.from({ length: STAGES }, () => "sh -c 'true'").join('\n') + '\n');
    const pipelineMs: number[] = [];
    const scriptMs: number[] = [];
    for (let t = 0; t < TRIALS + 1; t++) {
      const run = await client.startRun({ pipeline: 'ten' }, { archive: packDir(await checkReleaseDir(empty)) });
      const done = await waitEnded(client, run.id);
      if (done.status !== 'succeeded') throw new Error(`overhead run failed: ${done.message}`);
      const t0 = process.hrtime.bigint();
      await exec('sh', [script]);
      const sMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (t === 0) continue; // warm-up
      pipelineMs.push(Date.parse(done.finishedAt!) - Date.parse(done.startedAt!));
      scriptMs.push(sMs);
    }
    const diffs = pipelineMs.map((p, i) => p - scriptMs[i]!);
    const overheadMsPerStage = round(median(diffs) / STAGES, 2);
    console.log(`overhead: pipeline median ${median(pipelineMs)} ms, script median ${round(median(scriptMs))} ms for ${STAGES} stages -> ${overheadMsPerStage} ms per stage`);

    // ---- concurrent
    const sources: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const dir = await makeDemoRelease(join(work, 'runs'), { version: `r${i}` });
      sources.push(dir);
    }
    const latencies: number[] = [];
    let probing = true;
    const ids: string[] = [];
    const probe = (async () => {
      let k = 0;
      while (probing) {
        const t0 = performance.now();
        const which = k++ % 3;
        if (which === 0) await client.runs({ limit: 50 });
        else if (which === 1 && ids.length) await client.run(ids[k % ids.length]!);
        else await client.status({ app: 'app0' });
        latencies.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const t0 = Date.now();
    const started = await Promise.all(sources.map(async (dir, i) => client.startRun({ pipeline: `rel-${apps[i % APPS]}` }, { archive: packDir(await checkReleaseDir(dir)) })));
    ids.push(...started.map((r) => r.id));
    const ended = await Promise.all(ids.map((id) => waitEnded(client, id, 600_000)));
    probing = false;
    await probe;
    const completed = ended.filter((r) => r.status === 'succeeded').length;
    const lastEnd = Math.max(...ended.map((r) => Date.parse(r.finishedAt!)));
    const firstQueued = Math.min(...ended.map((r) => Date.parse(r.createdAt)));
    const perMinute = round((completed / (lastEnd - firstQueued)) * 60_000);
    const apiP99Ms = round(quantile(latencies, 0.99));
    const failures = ended.filter((r) => r.status !== 'succeeded').map((r) => `${r.id.slice(0, 8)}: ${r.message}`);
    console.log(`concurrent: ${completed}/${RUNS} succeeded in ${round((lastEnd - firstQueued) / 1000)} s (client saw ${round((Date.now() - t0) / 1000)} s) -> ${perMinute} runs/min; API p99 ${apiP99Ms} ms over ${latencies.length} requests`);
    for (const f of failures.slice(0, 5)) console.log(`  failed: ${f}`);
    printTable(['measure', 'value'], [
      ['overheadMsPerStage (median)', overheadMsPerStage],
      ['pipeline 10 stages median ms', median(pipelineMs)],
      ['script 10 commands median ms', round(median(scriptMs))],
      ['concurrent completed', `${completed}/${RUNS}`],
      ['runs per minute', perMinute],
      ['API p99 ms', apiP99Ms],
    ]);

    const path = await writeResult('pipeline', {
      overheadMsPerStage,
      concurrent: { runs: RUNS, completed, perMinute, apiP99Ms },
      detail: {
        overhead: { trials: TRIALS, stages: STAGES, pipelineMs, scriptMs: scriptMs.map((x) => round(x, 2)), target: 'at most 20 ms per stage' },
        concurrent: { apps: APPS, wallSeconds: round((lastEnd - firstQueued) / 1000), apiRequests: latencies.length, apiP50Ms: round(quantile(latencies, 0.5)), apiMaxMs: round(Math.max(...latencies)), failures },
      },
      machine: machineInfo(),
      at: new Date().toISOString(),
    });
    console.log(`wrote ${path}`);
  } finally {
    await platform.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
