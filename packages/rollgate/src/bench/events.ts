/**
 * bench:events — does the API stay fast while many viewers hold event streams? (issue 9, item 6:
 * 300 viewers on GET /v1/events?after=0 each replayed every event and API latency rose from
 * 3 ms to 4.5 s.)
 *
 * One real platform (`rollgate up`, SQLite), EVENTS events stored. A probe reads GET /v1/apps as
 * a viewer every PROBE_EVERY_MS (one keep-alive connection) while an admin applies the spec
 * every 50 ms (a live event each time, fanned out to every stream). Phase 1: no event stream.
 * Phase 2, same run: STREAMS viewers (spread over STREAMS/15 users, under the per-principal cap
 * of 20) connect at once with after=0, in their own process; the probe runs from their first
 * connection until each has its bounded replay, and PROBE_STEADY_MS more with all of them live.
 * BENCH_ROUNDS (default 2) rounds of both phases; the best round of each is reported (as
 * bench:router does, against noise from other work on the machine), every round is recorded.
 * As a peer of the connection burst, each round also sends as many plain GET /v1/apps at once
 * (p99MsWhile300PlainGets): what any burst of that many requests costs, streams or not.
 * Then one user opens 21 streams: the 21st must be refused with 429.
 * Writes bench/results/events.json: p99MsWith0Streams, p99MsWith300Streams, ratio, ...
 */
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import http from 'node:http';
import Database from 'better-sqlite3';
import { createToken, createUser } from '../cli/client-auth.js';
import { freePort } from '../demo/fixtures.js';
import { startPlatform } from '../demo/platform.js';
import { killAll, startChild, type Child } from './lib/proc.js';
import { machineInfo, printTable, writeResult } from './lib/results.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5000);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 300);
const PER_USER = 15;
const REPLAY_BOUND = 1000;
const PROBE_EVERY_MS = 10;
const PROBE_BASE_MS = Number(process.env.BENCH_PROBE_MS ?? 8000);
const PROBE_STEADY_MS = Number(process.env.BENCH_STEADY_MS ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const WATCHDOG_MS = 300_000;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** One keep-alive connection, GET every PROBE_EVERY_MS (the next waits for the answer), until `stop` resolves. */
async function probe(url: string, token: string, stop: Promise<unknown>, marks?: { until: () => number | null; during: number[] }): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<number>((ok, fail) => {
      const t = performance.now();
      const req = http.get(`${url}/v1/apps`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? ok(performance.now() - t) : fail(new Error(`GET /v1/apps answered ${res.statusCode}`))));
      });
      req.on('error', fail);
    });
  let done = false;
  void stop.then(() => (done = true));
  const lat: number[] = [];
  while (!done) {
    const started = performance.now();
    const ms = await get();
    lat.push(ms);
    // Answers that came before every stream had its replay: the connection burst itself.
    if (marks && marks.until() === null) marks.during.push(ms);
    const wait = PROBE_EVERY_MS - (performance.now() - started);
    if (wait > 0) await sleep(wait);
  }
  agent.destroy();
  return lat;
}

function storeEvents(dataDir: string, n: number): void {
  // Straight into the platform's SQLite file in one transaction: the bench needs them stored, not emitted one by one.
  const db = new Database(join(dataDir, 'rollgate.db'));
  db.pragma('busy_timeout = 5000');
  const insert = db.prepare('insert into events (at, type, app, env, deployment_id, data) values (?, ?, ?, ?, ?, ?)');
  const at = new Date().toISOString();
  db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(at, 'bench.event', 'shop', 'production', null, JSON.stringify({ i, note: 'a stored event of ordinary size, as deployments write them', weight: i % 100 }));
  })();
  db.close();
}

/** Phase 2: the viewers connect at once (own process); the probe runs until each has its replay, and PROBE_STEADY_MS more. */
async function withViewers(url: string, probeToken: string, streamTokens: string[], mode: 'streams' | 'plain' = 'streams') {
  const clientsPath = fileURLToPath(new URL('./lib/sse-clients-main.js', import.meta.url));
  let replayedMs: number | null = null;
  let clients: Child | null = null;
  // The child inherits the environment at spawn (synchronous, inside startChild).
  process.env.BENCH_TOKENS = JSON.stringify(streamTokens);
  const replayed = new Promise<void>((ok, fail) => {
    startChild('sse clients', process.execPath, [clientsPath, url, mode === 'plain' ? 'plain' : String(REPLAY_BOUND)], /opened (\d+)/, 60_000).then((c) => {
      clients = c;
      const onLine = (b: Buffer) => {
        const m = /replayed (\d+)/.exec(b.toString());
        if (m) {
          replayedMs = Number(m[1]);
          c.proc.stdout?.off('data', onLine);
          ok();
        }
      };
      c.proc.stdout?.on('data', onLine);
    }, fail);
  });
  delete process.env.BENCH_TOKENS;
  const duringReplay: number[] = [];
  const loaded = await probe(url, probeToken, replayed.then(() => sleep(mode === 'plain' ? 0 : PROBE_STEADY_MS)), { until: () => replayedMs, during: duringReplay });
  const c = clients as Child | null;
  if (!c) throw new Error('the viewers process did not start');
  if (mode === 'plain') {
    await c.stop();
    return { loaded, duringReplay, replayedMs, stats: {} as Record<string, unknown> };
  }
  const stats = await new Promise<Record<string, unknown>>((ok) => {
    let out = '';
    c.proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) ok(JSON.parse(line) as Record<string, unknown>);
    });
    c.proc.kill('SIGTERM');
  });
  await c.stop();
  return { loaded, duringReplay, replayedMs, stats };
}

async function main(): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'rollgate-bench-events-'));
  const dataDir = join(work, '.rollgate');
  const platform = await startPlatform({ dataDir, port: await freePort(), cwd: work, quiet: true });
  try {
    const admin = platform.client;
    storeEvents(dataDir, EVENTS);
    const users = Math.ceil(STREAMS / PER_USER);
    const tokens: string[] = [];
    for (let u = 0; u < users + 2; u++) {
      await createUser(admin, { name: `viewer${u}`, roles: ['viewer'], generatePassword: true });
      tokens.push((await createToken(admin, { user: `viewer${u}`, name: 'bench', expires: '1d' })).token);
    }
    const probeToken = tokens[users]!;
    const capToken = tokens[users + 1]!;
    const streamTokens = Array.from({ length: STREAMS }, (_, i) => tokens[i % users]!);

    // Live events all along, in both phases.
    let emitting = true;
    let emitted = 0;
    const emitter = (async () => {
      while (emitting) {
        await admin.applySpec({ apps: {}, environments: {} });
        emitted++;
        await sleep(50);
      }
    })();

    // Warm up, then ROUNDS of: phase 1 (no stream), phase 2 (STREAMS viewers connect at once with after=0).
    await probe(platform.url, probeToken, sleep(1000));
    const rounds: Array<{ base: number[]; loaded: number[]; duringReplay: number[]; replayedMs: number | null; stats: Record<string, unknown>; plainBurst: number[]; plainBurstMs: number | null }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const base = await probe(platform.url, probeToken, sleep(PROBE_BASE_MS));
      // The peer of the connection burst: as many plain GET /v1/apps arriving at once.
      const plain = await withViewers(platform.url, probeToken, streamTokens, 'plain');
      rounds.push({ base, plainBurst: plain.duringReplay, plainBurstMs: plain.replayedMs, ...(await withViewers(platform.url, probeToken, streamTokens)) });
      await sleep(1000); // the server notices the viewers gone
    }
    // The cap: 20 streams for one user are served, the 21st is refused.
    const capStatuses: number[] = [];
    const capReqs: http.ClientRequest[] = [];
    for (let i = 0; i < 21; i++) {
      capStatuses.push(
        await new Promise<number>((ok, fail) => {
          const req = http.get(`${platform.url}/v1/events?after=${1_000_000_000}`, { headers: { authorization: `Bearer ${capToken}` } }, (res) => {
            ok(res.statusCode ?? 0);
            if (res.statusCode !== 200) res.resume();
          });
          req.on('error', fail);
          capReqs.push(req);
        }),
      );
    }
    for (const r of capReqs) r.destroy();

    emitting = false;
    await emitter;
    // The best round of each phase, as bench:router does: it filters out noise from other work on the machine.
    const best = <T>(xs: T[], by: (x: T) => number) => xs.reduce((a, b) => (by(b) < by(a) ? b : a));
    const base = best(rounds.map((r) => r.base), (l) => quantile(l, 0.99));
    const bestLoaded = best(rounds, (r) => quantile(r.loaded, 0.99));
    const { loaded, duringReplay, replayedMs, stats } = bestLoaded;
    const p99With0 = quantile(base, 0.99);
    const p99With = quantile(loaded, 0.99);
    const result = {
      bench: 'events',
      at: new Date().toISOString(),
      machine: machineInfo(),
      events: EVENTS,
      streams: STREAMS,
      principals: users,
      replayBound: REPLAY_BOUND,
      probe: `GET /v1/apps as a viewer, one keep-alive connection, every ${PROBE_EVERY_MS} ms`,
      liveEventsEmitted: emitted,
      p50MsWith0Streams: round(quantile(base, 0.5)),
      p99MsWith0Streams: round(p99With0),
      p50MsWith300Streams: round(quantile(loaded, 0.5)),
      p99MsWith300Streams: round(p99With),
      maxMsWith300Streams: round(Math.max(...loaded)),
      p99MsWhile300Replay: round(quantile(duringReplay, 0.99)),
      probeRequestsWhile300Replay: duringReplay.length,
      // Once every viewer has its replay: 300 live streams, each live event fanned out to all.
      p99MsWith300StreamsLive: round(quantile(loaded.slice(duringReplay.length), 0.99)),
      // Peer of the burst: the probe while 300 plain GET /v1/apps arrive at once (no stream at all).
      p99MsWhile300PlainGets: round(quantile(bestLoaded.plainBurst, 0.99)),
      all300PlainGetsMs: bestLoaded.plainBurstMs,
      ratio: round(p99With / p99With0),
      probeRequests: { with0Streams: base.length, with300Streams: loaded.length },
      allReplayedMs: replayedMs,
      clients: stats,
      capPerPrincipal: { statuses: capStatuses.slice(-2), refusedAt: capStatuses.indexOf(429) + 1 },
      rounds: rounds.map((r) => ({
        p99MsWith0Streams: round(quantile(r.base, 0.99)),
        p99MsWith300Streams: round(quantile(r.loaded, 0.99)),
        p99MsWhile300Replay: round(quantile(r.duringReplay, 0.99)),
        allReplayedMs: r.replayedMs,
        p99MsWhile300PlainGets: round(quantile(r.plainBurst, 0.99)),
        all300PlainGetsMs: r.plainBurstMs,
      })),
    };
    const path = await writeResult('events', result);
    printTable(
      ['phase', 'probe requests', 'p50 ms', 'p99 ms'],
      [
        ['0 streams', base.length, result.p50MsWith0Streams, result.p99MsWith0Streams],
        [`${STREAMS} streams (after=0)`, loaded.length, result.p50MsWith300Streams, result.p99MsWith300Streams],
        [`  of which during their replay`, duringReplay.length, round(quantile(duringReplay, 0.5)), result.p99MsWhile300Replay],
        [`  of which all live`, loaded.length - duringReplay.length, round(quantile(loaded.slice(duringReplay.length), 0.5)), result.p99MsWith300StreamsLive],
        [`peer: ${STREAMS} plain GETs at once`, bestLoaded.plainBurst.length, round(quantile(bestLoaded.plainBurst, 0.5)), result.p99MsWhile300PlainGets],
      ],
    );
    console.log(`ratio ${result.ratio}; all ${STREAMS} replayed in ${replayedMs} ms; clients ${JSON.stringify(stats)}; 21st stream of one user: ${capStatuses[20]}`);
    console.log(`wrote ${path}`);
    const ok = capStatuses[20] === 429 && capStatuses.slice(0, 20).every((s) => s === 200) && rounds.every((r) => (r.stats.byStatus as Record<string, number>)['200'] === STREAMS);
    return ok ? 0 : 1;
  } finally {
    await platform.stop();
    await rm(work, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(() => {
  console.error(`bench:events did not finish within ${WATCHDOG_MS} ms`);
  killAll();
  process.exit(2);
}, WATCHDOG_MS);
watchdog.unref();
main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (e: unknown) => {
    console.error(e);
    killAll();
    process.exit(1);
  },
);
