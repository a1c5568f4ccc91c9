/**
 * `npm run demo [-- --ci]`: starts the platform in a temporary data directory, deploys the
 * example app v1 to production, puts synthetic traffic on it, releases v2 by canary, v3 by
 * blue-green, rolls back to v2, and prints what happened and how many requests failed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import type { ApiClient } from '../cli/client.js';
import type { DeploymentView } from '../api/contract.js';
import { formatDuration } from '../core/duration.js';
import { LoadGenerator, type PhaseStats } from '../loadgen/loadgen.js';
import { demoSpec, freePort, makeDemoRelease, type Behavior } from './fixtures.js';
import { startPlatform, waitForDeployment } from './platform.js';

const ci = process.argv.includes('--ci');

interface Row {
  what: string;
  strategy: string;
  outcome: string;
  expected: string;
  durationMs: number;
  stats: PhaseStats;
}

function say(msg: string): void {
  process.stdout.write(`\x1b[1m▸\x1b[0m ${msg}\n`);
}

async function release(client: ApiClient, base: string, b: Behavior): Promise<void> {
  const dir = await makeDemoRelease(base, b);
  await client.uploadRelease('demo', packDir(await checkReleaseDir(dir)), { version: b.version });
}

async function main(): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'rollgate-demo-'));
  const dataDir = join(work, '.rollgate');
  const [apiPort, stagingPort, productionPort] = [await freePort(), await freePort(), await freePort()];
  const specText = demoSpec({ stagingPort, productionPort, replicas: 2 });
  await writeFile(join(work, 'rollgate.yaml'), specText);

  say(`starting the platform (data in ${dataDir})`);
  const p = await startPlatform({ dataDir, port: apiPort, cwd: work, quiet: true });
  const { client } = p;
  const rows: Row[] = [];
  let load: LoadGenerator | null = null;
  try {
    await client.applySpec(parseYaml(specText));
    for (const v of ['v1', 'v2', 'v3']) await release(client, join(work, 'releases'), { version: v, latencyMs: 2 });
    await release(client, join(work, 'releases'), { version: 'v4-faulty', latencyMs: 2, failRate: 0.2 });

    const phase = async (what: string, expected: string, start: () => Promise<DeploymentView>, during?: (d: DeploymentView) => Promise<void>) => {
      load?.setPhase(what);
      const t0 = Date.now();
      const d0 = await start();
      say(`${what}: deployment ${d0.id.slice(0, 8)} started`);
      if (during) await during(d0);
      const d = await waitForDeployment(client, d0.id, 180_000);
      const durationMs = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 300)); // let requests issued during the phase finish
      rows.push({ what, strategy: d.kind === 'rollback' ? 'rollback' : Object.keys(d.strategy)[0]!, outcome: d.status, expected, durationMs, stats: load?.phaseStats(what) ?? { requests: 0, failed: 0, byVersion: {}, reasons: {} } });
      say(`${what}: ${d.status} in ${formatDuration(durationMs)} — ${d.message}`);
    };

    await phase('deploy v1', 'succeeded', () => client.deploy({ app: 'demo', env: 'production', version: 'v1' }));

    const prodUrl = `http://127.0.0.1:${productionPort}`;
    say(`synthetic traffic: 200 requests/s on ${prodUrl}, 5% of them slow (1-2s)`);
    load = new LoadGenerator({ url: prodUrl, ratePerSecond: 200, slowShare: 0.05, durationMs: 10 * 60_000, connections: 64 });
    load.start();
    await new Promise((r) => setTimeout(r, 1000));

    await phase('canary v2', 'succeeded', () => client.deploy({ app: 'demo', env: 'production', version: 'v2' }), async (d) => {
      const paused = await waitForDeployment(client, d.id, 120_000, (x) => x.status === 'paused' || x.status !== 'progressing');
      if (paused.status === 'paused') {
        say(`canary v2: paused at ${paused.candidateWeight ?? '?'}% (${paused.step}); promoting`);
        await client.act(d.id, 'promote', { full: false });
      }
    });
    await phase('blue-green v3', 'succeeded', () => client.deploy({ app: 'demo', env: 'production', version: 'v3', strategy: 'blue-green' }));
    await phase('rollback to v2', 'succeeded', () => client.rollback({ app: 'demo', env: 'production' }));
    let detected = '';
    await phase('faulty v4', 'rolled_back', () => client.deploy({ app: 'demo', env: 'production', version: 'v4-faulty' }), async (d) => {
      const end = await waitForDeployment(client, d.id, 120_000);
      const traffic = end.timeline.find((e) => e.kind === 'step');
      const reverted = end.timeline.find((e) => e.kind === 'reverting');
      if (traffic && reverted) detected = `${((Date.parse(reverted.at) - Date.parse(traffic.at)) / 1000).toFixed(2)}s`;
      say(`faulty v4: ${end.status.replace('_', ' ')} automatically ${detected ? `${detected} after it got traffic` : ''}: ${end.message}`);
    });

    await load.stop();
    load = null;

    // Summary
    const line = (cols: string[]) => cols.map((c, i) => c.padEnd([18, 10, 11, 10, 10, 16][i] ?? 10)).join(' ');
    process.stdout.write('\n' + line(['deployment', 'strategy', 'outcome', 'duration', 'requests', 'failed requests']) + '\n');
    for (const r of rows) process.stdout.write(line([r.what, r.strategy, r.outcome, formatDuration(r.durationMs), String(r.stats.requests), String(r.stats.failed)]) + '\n');
    // The faulty release is expected to hurt a few users before it is caught; every other step none.
    const bad = rows.filter((r) => r.outcome !== r.expected || (r.expected === 'succeeded' && r.stats.failed > 0));
    const faulty = rows.find((r) => r.what === 'faulty v4');
    if (faulty) process.stdout.write(`\nautomated rollback of faulty v4: detected ${detected || '?'} after it got traffic; ${faulty.stats.failed} user requests failed meanwhile\n`);
    for (const r of bad) process.stdout.write(`  ✗ ${r.what}: ${r.outcome} (expected ${r.expected}), ${r.stats.failed} failed ${JSON.stringify(r.stats.reasons)}\n`);
    const status = await client.status({ app: 'demo', env: 'production' });
    process.stdout.write(`\nproduction now serves ${status[0]?.currentVersion ?? '?'}; ${bad.length === 0 ? 'every step behaved' : `${bad.length} step(s) misbehaved`}\n`);

    if (ci) return bad.length === 0 ? 0 : 1;
    process.stdout.write(`\nThe platform keeps running:\n  API        ${p.url}  (token in ${join(dataDir, 'api.token')})\n  production ${prodUrl}\n  staging    http://127.0.0.1:${stagingPort}\nTry: ROLLGATE_SERVER=${p.url} ROLLGATE_TOKEN=$(cat ${join(dataDir, 'api.token')}) npx rollgate status\nPress Ctrl-C to stop.\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    await load?.stop();
    await p.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`demo failed: ${e.message}\n`);
    process.exit(1);
  },
);
