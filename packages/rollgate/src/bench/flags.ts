/**
 * bench:flags — how fast flags evaluate, how fast a change reaches connected SDKs, what
 * evaluation over the network and the streams cost the server (issue 11).
 *
 * - eval: in-process evaluations per second, Rollgate's engine against unleash-client and
 *   @openfeature/flagd-core on the same flags and contexts, in one run (packages/sdk bench).
 * - propagation: CLIENTS Rollgate SDK clients (streaming) over WORKERS processes follow one
 *   environment of a real server (SQLite); ROUNDS flag changes through the API, each timed from
 *   the moment its request was sent (so the API's own commit is included) to each client
 *   having the new revision; p50, p99 and max over every client and round. WARMUP changes come
 *   first, not counted: the first deltas after the clients connect run cold code (the JIT has
 *   seen only hydrations), two to three times slower than every later one (BENCH_VERBOSE shows them).
 * - sseServerMemoryMiB: the server process's RSS with the clients' streams open, less before.
 * - ofrepBulkRps: POST /ofrep/v1/evaluate/flags (10 flags, one context), wrk with 32
 *   connections for 5 s.
 * - guard: guarded flag rollouts judged from real traffic (bench/flags-guard.ts, after the rest,
 *   on a platform of its own; BENCH_SKIP_GUARD leaves the last measured guard in place).
 * Writes bench/results/flags.json in the format the issue names.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startFlagsPlatform } from '../test/flags-platform.js';
import { sdkKey } from '../test/delivery-kit.js';
import { RESULTS_DIR, machineInfo, writeResult } from './lib/results.js';
import { GUARD_NOTE, guardBench, type GuardResult } from './flags-guard.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
/** Changes made first and not counted: the server and the SDKs run long in use, their delta paths optimized by then. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const now = () => performance.timeOrigin + performance.now();

interface EvalRates {
  rollgate: number;
  unleashClient: number;
  flagdCore: number;
}

async function evalRates(): Promise<{ simple: EvalRates; targeting: EvalRates }> {
  // The SDK's own bench (packages/sdk/src/bench/eval.ts), loaded by path: it is not part of the SDK's API.
  const url = pathToFileURL(fileURLToPath(new URL('../../../sdk/dist/bench/eval.js', import.meta.url))).href;
  const m = (await import(url)) as { benchFlagsEval(): Promise<{ simple: EvalRates; targeting: EvalRates }> };
  return m.benchFlagsEval();
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round1 = (x: number) => Math.round(x * 10) / 10;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

interface Worker {
  proc: ChildProcess;
  lines: AsyncIterator<string>;
}

async function startWorker(url: string, key: string, n: number): Promise<Worker> {
  const script = fileURLToPath(new URL('./lib/flag-clients-main.js', import.meta.url));
  // BENCH_CLIENT_NODE_ARGS: node options for the clients' processes (e.g. --cpu-prof to see what following costs them).
  const nodeArgs = (process.env.BENCH_CLIENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, script, url, key, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== 'ready') throw new Error(`SDK worker did not get ready: ${String(first.value)}`);
  return { proc, lines };
}

async function ofrepRps(url: string, key: string): Promise<number> {
  const wrk = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find(existsSync);
  if (!wrk) throw new Error('wrk is not installed (apt-get install wrk); bench:flags uses it for ofrepBulkRps');
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-bench-ofrep-'));
  try {
    const script = join(dir, 'post.lua');
    await writeFile(script, `wrk.method = "POST"\nwrk.body = '{"context":{"targetingKey":"user-42","plan":"pro"}}'\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "${key}"\n`);
    // Not execFileSync: the server answering wrk runs in this process.
    const { stdout: out } = await promisify(execFile)(wrk, ['-t1', '-c32', '-d5s', '-s', script, `${url}/ofrep/v1/evaluate/flags`], { encoding: 'utf8' });
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
    const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
    if (non2xx) throw new Error(`OFREP bulk answered ${non2xx[1]} non-2xx responses under load:\n${out}`);
    if (!rps || Number(rps[1]) === 0) throw new Error(`wrk measured nothing:\n${out}`);
    return Number(rps[1]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  let out: { guard: GuardResult | null } & Record<string, unknown>;
  const evalResult = process.env.BENCH_SKIP_EVAL ? { simple: { rollgate: 0, unleashClient: 0, flagdCore: 0 }, targeting: { rollgate: 0, unleashClient: 0, flagdCore: 0 } } : await evalRates();
  console.log(`eval      simple ${evalResult.simple.rollgate.toLocaleString('en')}/s (unleash-client ${evalResult.simple.unleashClient.toLocaleString('en')}/s), targeting ${evalResult.targeting.rollgate.toLocaleString('en')}/s (unleash-client ${evalResult.targeting.unleashClient.toLocaleString('en')}/s)`);

  const p = await startFlagsPlatform(undefined, { deliveryStreams: { perKey: CLIENTS, total: CLIENTS * 2 } });
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name: `f${i}`, kind: 'release' } });
      await p.admin.request('PUT', `/v1/apps/shop/envs/staging/flags/f${i}`, {
        body: { enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'default', groupId: `f${i}` }, constraints: [{ contextName: 'plan', operator: 'IN', values: ['pro', 'team'] }] }] },
      });
    }
    const key = (await sdkKey(p.admin, 'shop', 'staging', 'server')).key;

    // Memory and propagation: the server runs in this process; the clients in WORKERS others.
    (globalThis as { gc?: () => void }).gc?.();
    await sleep(500);
    const rssBefore = process.memoryUsage().rss;
    const per = Math.ceil(CLIENTS / WORKERS);
    for (let i = 0; i < WORKERS; i++) workers.push(await startWorker(p.server.url, key, Math.min(per, CLIENTS - i * per)));
    await sleep(2000);
    const rssAfter = process.memoryUsage().rss;
    const connected = (await p.admin.request('GET', '/v1/apps/shop/envs/staging/flag-sdks')) as { streams: { unleash: number } };
    console.log(`streams   ${connected.streams.unleash} open; server RSS +${round((rssAfter - rssBefore) / 2 ** 20)} MiB`);

    const samples: number[] = [];
    let missed = 0;
    for (let r = -WARMUP; r < ROUNDS; r++) {
      const t0 = now();
      const cpu0 = process.cpuUsage();
      // 10, 50, 10, ... from the first change on: f0 starts at 50, and a rollout to 50 would change nothing.
      const res = { ...((await p.admin.request('POST', `/v1/apps/shop/envs/staging/flags/f0/rollout`, { body: { percent: 10 + ((r + WARMUP) & 1) * 40 } })) as { revision: number | null }), at: now() };
      if (typeof res.revision !== 'number') throw new Error(`round ${r}: the change moved no revision (${String(res.revision)}); the clients would wait for nothing`);
      for (const w of workers) w.proc.stdin!.write(`${res.revision}\n`);
      const times: number[] = [];
      let clientCpuMs = 0;
      for (const w of workers) {
        const line = await w.lines.next();
        const { t, cpuMs } = JSON.parse(String(line.value)) as { t: (number | null)[]; cpuMs: number };
        clientCpuMs += cpuMs;
        for (const x of t) {
          if (x === null) missed += r >= 0 ? 1 : 0;
          else times.push(Math.max(0, x - t0));
        }
      }
      const serverCpu = process.cpuUsage(cpu0);
      if (r >= 0) samples.push(...times);
      // The first client's time is the server's part (the change, the read, the first write); the spread is the fan-out.
      // CPU: this process (the server) and the clients' processes, for the round; on a shared machine it says more than the times.
      if (process.env.BENCH_VERBOSE) console.log(`${r < 0 ? 'warm-up' : `round ${r}`}: api ${round1(res.at - t0)} ms, first ${round1(Math.min(...times))} ms, last ${round1(Math.max(...times))} ms; cpu server ${round1((serverCpu.user + serverCpu.system) / 1000)} ms, clients ${round1(clientCpuMs)} ms`);
      await sleep(200);
    }
    samples.sort((a, b) => a - b);
    const propagation = { clients: CLIENTS, rounds: ROUNDS, warmupRounds: WARMUP, p50Ms: round(quantile(samples, 0.5)), p99Ms: round(quantile(samples, 0.99)), maxMs: round(samples.at(-1) ?? NaN), missed };
    console.log(`propagate ${CLIENTS} clients x ${ROUNDS} changes: p50 ${propagation.p50Ms} ms, p99 ${propagation.p99Ms} ms, max ${propagation.maxMs} ms, missed ${missed}`);
    for (const w of workers) w.proc.stdin!.end('stop\n');
    await Promise.all(workers.map((w) => new Promise((r) => w.proc.once('exit', r))));
    workers.length = 0;

    const ofrepBulkRps = await ofrepRps(p.server.url, key);
    console.log(`ofrep     bulk evaluation (10 flags): ${ofrepBulkRps} req/s`);

    out = {
      eval: evalResult,
      propagation,
      guard: null as GuardResult | null,
      ofrepBulkRps,
      sseServerMemoryMiB: round((rssAfter - rssBefore) / 2 ** 20),
      notes: {
        propagation: 'from the change request being sent (its commit included) to each client holding the new revision; clients are @rollgate/sdk RollgateClient over the Unleash streaming endpoint, in separate processes; warmupRounds changes made first are not counted (cold code: the first deltas after connecting)',
        guard: GUARD_NOTE,
        ofrep: 'wrk -t1 -c32 -d5s, POST /ofrep/v1/evaluate/flags with one context, 10 flags with a constraint and a 50% rollout',
      },
      machine: machineInfo(),
      measuredAt: new Date().toISOString(),
    };
  } finally {
    for (const w of workers) w.proc.kill('SIGKILL');
    await p.stop();
  }
  if (process.env.BENCH_SKIP_GUARD) {
    const prev = JSON.parse(await readFile(join(RESULTS_DIR, 'flags.json'), 'utf8').catch(() => '{}')) as { guard?: GuardResult | null; guardMeasuredAt?: string; measuredAt?: string };
    out.guard = prev.guard ?? null;
    out.guardMeasuredAt = prev.guardMeasuredAt ?? prev.measuredAt ?? null;
  } else {
    out.guard = await guardBench();
    out.guardMeasuredAt = new Date().toISOString();
    console.log(`guard     killed within ${out.guard.detectSeconds} s with ${out.guard.failedRequests} failed (worst of ${out.guard.faultyTrials.length}); ${out.guard.falseKills} of ${out.guard.healthyTrials} healthy killed`);
  }
  console.log(`wrote ${await writeResult('flags', out)}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
