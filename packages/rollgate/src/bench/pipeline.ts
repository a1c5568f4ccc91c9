/**
 * bench:pipeline — what does the pipeline runner cost, and how many runs does it carry at once?
 *
 * overhead:   a pipeline of 10 `run` stages of `true`, against the same 10 commands run one after
 *             another by a shell script (each in its own `sh -c`, as the stages are), interleaved,
 *             TRIALS times each. The pipeline's time is the server's own: run started -> finished.
 *             overheadMsPerStage = median(pipeline - script) / 10. (SQLite store, the default.)
 * concurrent: 50 runs started at once for 10 apps (5 each), each a build stage and a deploy of
 *             its own release to one local environment (rolling, real instances of the demo
 *             app). Deploys of one app queue; apps go side by side. Meanwhile a probe reads the
 *             API (run list, one run, status) every 50 ms: apiP99Ms is its p99 latency. Run on
 *             the SQLite store (the headline figures) and, as a peer in the same run, on
 *             PostgreSQL when it is reachable.
 * Writes bench/results/pipeline.json.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ApiClient } from '../cli/client.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { errorMessage } from '../core/errors.js';
import { REPO_ROOT, freePort, makeDemoRelease } from '../demo/fixtures.js';
import { startPlatform, type Platform } from '../demo/platform.js';
import type { RunView } from '../engine/pipeline/pipelines.js';
import { createTestDatabase, type TestDatabase } from '../test/pg.js';
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

async function withPlatform<T>(work: string, name: string, env: NodeJS.ProcessEnv, f: (p: Platform) => Promise<T>): Promise<T> {
  const platform = await startPlatform({ dataDir: join(work, name, '.rollgate'), port: await freePort(), cwd: REPO_ROOT, quiet: true, env });
  try {
    return await f(platform);
  } finally {
    await platform.stop();
  }
}

async function applySpec(client: ApiClient, apps: string[]): Promise<void> {
  const appSpec = { run: 'node server.js', replicas: 1, drainTimeout: '1s', healthCheck: { path: '/healthz', interval: '100ms', timeout: '1s' } };
  await client.applySpec({
    apps: Object.fromEntries(apps.map((a) => [a, appSpec])),
    environments: { local: { listen: await freePort(), analysis: false, strategy: { rolling: { analysis: false } } } },
    pipelines: {
      ten: { app: apps[0]!, stages: Array.from({ length: STAGES }, (_, i) => ({ name: `s${i}`, run: { command: 'true' } })) },
      ...Object.fromEntries(apps.map((a) => [`rel-${a}`, { app: a, stages: [{ name: 'build', run: { command: 'echo build' } }, { name: 'deploy', deploy: { env: 'local' } }] }])),
    },
  });
}

async function overhead(work: string, client: ApiClient) {
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
  const overheadMsPerStage = round(median(pipelineMs.map((p, i) => p - scriptMs[i]!)) / STAGES, 2);
  console.log(`overhead: pipeline median ${median(pipelineMs)} ms, script median ${round(median(scriptMs))} ms for ${STAGES} stages -> ${overheadMsPerStage} ms per stage`);
  return { overheadMsPerStage, detail: { trials: TRIALS, stages: STAGES, pipelineMs, scriptMs: scriptMs.map((x) => round(x, 2)), target: 'at most 20 ms per stage' } };
}

async function concurrent(work: string, store: string, client: ApiClient, apps: string[]) {
  const sources: string[] = [];
  for (let i = 0; i < RUNS; i++) sources.push(await makeDemoRelease(join(work, `runs-${store}`), { version: `r${i}` }));
  const latencies: number[] = [];
  const byRoute: Record<string, number[]> = { 'GET /v1/runs': [], 'GET /v1/runs/:id': [], 'GET /v1/status': [] };
  let probing = true;
  const ids: string[] = [];
  const probe = (async () => {
    let k = 0;
    while (probing) {
      const t0 = performance.now();
      const which = k++ % 3;
      const route = which === 0 ? 'GET /v1/runs' : which === 1 && ids.length ? 'GET /v1/runs/:id' : 'GET /v1/status';
      if (route === 'GET /v1/runs') await client.runs({ limit: 50 });
      else if (route === 'GET /v1/runs/:id') await client.run(ids[k % ids.length]!);
      else await client.status({ app: apps[0] });
      const ms = performance.now() - t0;
      latencies.push(ms);
      byRoute[route]!.push(ms);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const started = await Promise.all(sources.map(async (dir, i) => client.startRun({ pipeline: `rel-${apps[i % apps.length]}` }, { archive: packDir(await checkReleaseDir(dir)) })));
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
  const p99ByRoute = Object.fromEntries(Object.entries(byRoute).map(([r, xs]) => [r, round(quantile(xs, 0.99))]));
  console.log(`concurrent (${store}): ${completed}/${RUNS} succeeded in ${round((lastEnd - firstQueued) / 1000)} s -> ${perMinute} runs/min; API p99 ${apiP99Ms} ms over ${latencies.length} requests ${JSON.stringify(p99ByRoute)}`);
  for (const f of failures.slice(0, 5)) console.log(`  failed: ${f}`);
  return {
    summary: { runs: RUNS, completed, perMinute, apiP99Ms },
    detail: { store, apps: apps.length, wallSeconds: round((lastEnd - firstQueued) / 1000), apiRequests: latencies.length, apiP50Ms: round(quantile(latencies, 0.5)), apiMaxMs: round(Math.max(...latencies)), apiP99MsByRoute: p99ByRoute, failures },
  };
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'rollgate-bench-pipeline-'));
  const apps = Array.from({ length: APPS }, (_, i) => `app${i}`);
  let pg: TestDatabase | null = null;
  try {
    const sqlite = await withPlatform(work, 'sqlite', {}, async (p) => {
      await applySpec(p.client, apps);
      const o = await overhead(work, p.client);
      const c = await concurrent(work, 'sqlite', p.client, apps);
      return { o, c };
    });
    let postgres: Awaited<ReturnType<typeof concurrent>> | { skipped: string };
    try {
      pg = await createTestDatabase();
      const url = pg.url;
      postgres = await withPlatform(work, 'postgres', { ROLLGATE_DATABASE_URL: url }, async (p) => {
        await applySpec(p.client, apps);
        return concurrent(work, 'postgres', p.client, apps);
      });
    } catch (e) {
      postgres = { skipped: `PostgreSQL peer not run: ${errorMessage(e)}` };
      console.log(postgres.skipped);
    }
    printTable(['measure', 'value'], [
      ['overheadMsPerStage (median)', sqlite.o.overheadMsPerStage],
      ['pipeline 10 stages median ms', median(sqlite.o.detail.pipelineMs)],
      ['script 10 commands median ms', round(median(sqlite.o.detail.scriptMs))],
      ['concurrent completed (SQLite)', `${sqlite.c.summary.completed}/${RUNS}`],
      ['runs per minute (SQLite)', sqlite.c.summary.perMinute],
      ['API p99 ms (SQLite)', sqlite.c.summary.apiP99Ms],
      ...('summary' in postgres
        ? [
            ['runs per minute (PostgreSQL)', postgres.summary.perMinute],
            ['API p99 ms (PostgreSQL)', postgres.summary.apiP99Ms],
          ]
        : []),
    ]);
    const path = await writeResult('pipeline', {
      overheadMsPerStage: sqlite.o.overheadMsPerStage,
      concurrent: sqlite.c.summary,
      detail: {
        overhead: sqlite.o.detail,
        concurrent: sqlite.c.detail,
        postgres: 'summary' in postgres ? { ...postgres.summary, ...postgres.detail } : postgres,
      },
      machine: machineInfo(),
      at: new Date().toISOString(),
    });
    console.log(`wrote ${path}`);
  } finally {
    await pg?.drop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
