/**
 * bench:router — throughput and p99 latency of the same closed-loop load (wrk -t1 -c50, or
 * the Node generator when wrk is missing) against: the upstream directly, Rollgate's built-in
 * router, http-proxy (keep-alive agent), and HAProxy (one thread) when installed. Every target
 * runs in its own process. Two rounds, targets interleaved within each round, warmup before
 * each measured run; the best run per target is kept, which filters out noise from other
 * work on the machine. Writes bench/results/router.json and prints a table.
 *
 * Env: ROLLGATE_REQUIRE_ALL=1 fails when wrk or haproxy is missing; BENCH_SECONDS (default 8)
 * and BENCH_ROUNDS (default 2) shorten or lengthen the run.
 */
import { fileURLToPath } from 'node:url';
import { findHaproxy, startHaproxy, type HaproxyHandle } from './lib/haproxy.js';
import { findWrk, runLoad, type LoadResult, type LoadTool } from './lib/load.js';
import { killAll, startChild, type Child } from './lib/proc.js';
import { machineInfo, printTable, writeResult } from './lib/results.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = 2;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = 50;
/** Hard stop: the whole run must end by itself. */
const WATCHDOG_MS = 170_000;

type Target = 'direct' | 'builtin' | 'httpProxy' | 'haproxy';
const TARGETS: Target[] = ['direct', 'builtin', 'httpProxy', 'haproxy'];

function libPath(name: string): string {
  return fileURLToPath(new URL(`./lib/${name}`, import.meta.url));
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

async function main(): Promise<number> {
  const requireAll = process.env.ROLLGATE_REQUIRE_ALL === '1';
  const wrk = findWrk();
  const haproxyBin = findHaproxy();
  const tool: LoadTool = wrk ? 'wrk' : 'node';
  const missing = [...(wrk ? [] : ['wrk']), ...(haproxyBin ? [] : ['haproxy'])];
  if (missing.length > 0) {
    const msg = `!!! ${missing.join(' and ')} not installed (apt-get install -y ${missing.join(' ')})`;
    if (requireAll) {
      console.error(`${msg}; ROLLGATE_REQUIRE_ALL=1 requires both.`);
      return 2;
    }
    console.error(`${msg}: ${wrk ? '' : 'using the Node load generator; '}${haproxyBin ? '' : 'haproxy is recorded as null.'}`);
  }

  const children: Child[] = [];
  let haproxy: HaproxyHandle | null = null;
  try {
    const upstream = await startChild('upstream', process.execPath, [libPath('upstream-main.js'), '0'], /listening (\d+)/);
    children.push(upstream);
    const upstreamPort = Number(upstream.ready);
    const builtin = await startChild('builtin router', process.execPath, [libPath('proxy-main.js'), 'builtin', String(upstreamPort)], /listening (\d+)/);
    children.push(builtin);
    const hp = await startChild('http-proxy', process.execPath, [libPath('proxy-main.js'), 'http-proxy', String(upstreamPort)], /listening (\d+)/);
    children.push(hp);
    if (haproxyBin) haproxy = await startHaproxy(haproxyBin, upstreamPort);

    const ports: Record<Target, number | null> = {
      direct: upstreamPort,
      builtin: Number(builtin.ready),
      httpProxy: Number(hp.ready),
      haproxy: haproxy?.port ?? null,
    };
    const best: Record<Target, LoadResult | null> = { direct: null, builtin: null, httpProxy: null, haproxy: null };
    const runs: Array<Array<string | number>> = [];
    console.log(`bench:router — ${tool} -c${CONNECTIONS}, ${WARMUP_SECONDS}s warmup + ${SECONDS}s per run, ${ROUNDS} rounds interleaved`);
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate the order between rounds so no target always runs right after another.
      const order = round % 2 === 1 ? TARGETS : [...TARGETS].reverse();
      for (const t of order) {
        const port = ports[t];
        if (port === null) continue;
        await runLoad(tool, port, WARMUP_SECONDS, CONNECTIONS);
        const r = await runLoad(tool, port, SECONDS, CONNECTIONS);
        runs.push([`round ${round} ${t}`, Math.round(r.rps), round2(r.p99ms), r.errors]);
        console.log(`  round ${round} ${t.padEnd(9)} ${Math.round(r.rps).toString().padStart(7)} req/s  p99 ${round2(r.p99ms)} ms${r.errors > 0 ? `  ERRORS ${r.errors}` : ''}`);
        if (r.errors > 0) console.error(`!!! ${t} answered ${r.errors} requests with an error: its figure is not comparable`);
        const prev = best[t];
        if (prev === null || r.rps > prev.rps) best[t] = r;
      }
    }

    const rps = Object.fromEntries(TARGETS.map((t) => [t, best[t] ? Math.round(best[t].rps) : null])) as Record<Target, number | null>;
    const p99ms = Object.fromEntries(TARGETS.map((t) => [t, best[t] ? round2(best[t].p99ms) : null])) as Record<Target, number | null>;
    const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? round2(a / b) : null);
    const result = {
      rps,
      p99ms,
      ratios: { builtinVsHttpProxy: ratio(rps.builtin, rps.httpProxy), builtinVsHaproxy: ratio(rps.builtin, rps.haproxy) },
      machine: machineInfo(),
      tool,
    };
    const path = await writeResult('router', result);

    console.log('');
    printTable(
      ['target', 'req/s (best)', 'p99 ms', 'vs builtin'],
      TARGETS.map((t) => [t, rps[t] ?? 'n/a', p99ms[t] ?? 'n/a', rps[t] && rps.builtin ? `${round2(rps[t] / rps.builtin)}x` : 'n/a']),
    );
    console.log('');
    console.log(`builtin vs http-proxy: ${result.ratios.builtinVsHttpProxy ?? 'n/a'}x (target >= 1.5x)`);
    console.log(`builtin vs haproxy:    ${result.ratios.builtinVsHaproxy ?? 'n/a (haproxy not installed)'}${result.ratios.builtinVsHaproxy !== null ? 'x' : ''}`);
    if (!haproxyBin) console.error('!!! HAProxy is not installed: its column is null. Install it (apt-get install -y haproxy) for the full comparison.');
    console.log(`wrote ${path}`);
    return 0;
  } finally {
    await haproxy?.stop();
    await Promise.all(children.map((c) => c.stop()));
  }
}

const watchdog = setTimeout(() => {
  console.error(`bench:router did not finish within ${WATCHDOG_MS / 1000}s; stopping`);
  killAll();
  process.exit(3);
}, WATCHDOG_MS);
watchdog.unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    killAll();
    process.exitCode = 1;
  },
);
