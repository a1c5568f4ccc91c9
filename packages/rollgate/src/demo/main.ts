/**
 * `npm run demo [-- --ci]`: starts the platform in a temporary data directory, deploys the
 * example app v1 to production, puts synthetic traffic on it, releases v2 by canary, v3 by
 * blue-green, rolls back to v2, lets automated analysis roll back a faulty v4, then releases v5
 * through the full pipeline (build, tests with a JUnit gate, staging, automatic and manual
 * approval, canary with analysis), rolls a flag out with a guard that kills its faulty new code
 * path by itself, and prints what happened, how many requests failed, and the DORA delivery
 * metrics. The app evaluates its flags through @rollgate/sdk (shipped in each release).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { readCommit } from '../cli/git.js';
import { ApiClient } from '../cli/client.js';
import { createToken, createUser } from '../cli/client-auth.js';
import type { DeploymentView } from '../api/contract.js';
import { formatDuration } from '../core/duration.js';
import { LoadGenerator, type PhaseStats } from '../loadgen/loadgen.js';
import { doraTable } from '../cli/commands/dora.js';
import type { RunView } from '../engine/pipeline/pipelines.js';
import { changeRequestsClient } from '../cli/client-flag-change-requests.js';
import { flagsClient } from '../cli/client-flags.js';
import { flagRolloutsClient, type RolloutView } from '../cli/client-flag-rollouts.js';
import { setSecret } from '../cli/client-secrets.js';
import { demoSpec, freePort, makeDemoRelease, makeDemoSource, type Behavior } from './fixtures.js';
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

/** The flag whose new code path fails 20% of the requests it serves (a bug behind a flag). */
const FAULTY_FLAG = 'new-checkout';

async function release(client: ApiClient, base: string, b: Behavior): Promise<void> {
  const dir = await makeDemoRelease(base, { ...b, flags: { [FAULTY_FLAG]: 0.2 } }, { withSdk: true });
  await client.uploadRelease('demo', packDir(await checkReleaseDir(dir)), { version: b.version });
}

async function main(): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'rollgate-demo-'));
  const dataDir = join(work, '.rollgate');
  const [apiPort, stagingPort, productionPort] = [await freePort(), await freePort(), await freePort()];
  const specText = demoSpec({ stagingPort, productionPort, replicas: 2, canaryAnalysisStep: true, pipeline: true, flagsUrl: `http://127.0.0.1:${apiPort}` });
  await writeFile(join(work, 'rollgate.yaml'), specText);

  say(`starting the platform (data in ${dataDir})`);
  const p = await startPlatform({ dataDir, port: apiPort, cwd: work, quiet: true });
  // The admin (created at first start) only sets the platform up; releases are made by release
  // managers, as in a team: rita releases, sam signs off production (separation of duties).
  const admin = p.client;
  const rows: Row[] = [];
  let load: LoadGenerator | null = null;
  try {
    await admin.applySpec(parseYaml(specText));
    // The app's SDK key for production, as a secret its instances get in FLAGS_KEY.
    const { key } = await flagsClient(admin).createKey('demo', 'production', { kind: 'server', name: 'demo-app' });
    await setSecret(admin, 'demo', 'production', 'FLAGS_KEY', new TextEncoder().encode(key));
    const asUser = async (name: string) => {
      await createUser(admin, { name, roles: ['release-manager'], generatePassword: true });
      const t = await createToken(admin, { user: name, name: 'demo', expires: '1d' });
      return new ApiClient(p.url, t.token);
    };
    const client = await asUser('rita');
    const signer = await asUser('sam');
    say('acting as rita (release-manager); sam (release-manager) signs off production');
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

    // Deploy is not release: a feature behind a flag, rolled out with a guard.
    let flagSummary = '';
    {
      const what = `flag ${FAULTY_FLAG}`;
      load.setPhase(what);
      const t0 = Date.now();
      await flagsClient(client).create('demo', { name: FAULTY_FLAG, kind: 'release', owner: 'rita', description: 'the new checkout (its code path fails 20% of its requests)' });
      say(`${what}: rita proposes a guarded rollout in production (10%, 50%, 100% every 20s); its new code path fails 20% of the requests it serves`);
      const proposal = await changeRequestsClient(client).propose('demo', 'production', FAULTY_FLAG, { action: 'steps', rollout: { steps: [10, 50, 100], every: '20s', guard: true }, reason: 'release the new checkout' });
      const self = await changeRequestsClient(client).approve(proposal.id).then(
        () => 'accepted (separation of duties did not hold!)',
        (e: Error) => e.message,
      );
      if (!/separation of duties/.test(self)) throw new Error(`rita approved her own flag change: ${self}`);
      say(`${what}: rita may not approve her own change (${self.split(';')[0]}); sam approves (rollgate flags approve ${proposal.id})`);
      await changeRequestsClient(signer).approve(proposal.id, 'demo sign-off');
      const started = (await flagRolloutsClient(client).history('demo', 'production', FAULTY_FLAG))[0]!;
      const end = await waitForRollout(client, started.id, FAULTY_FLAG);
      await new Promise((r) => setTimeout(r, 1500)); // the kill reaches every instance's SDK; requests under way finish
      const stats = load.phaseStats(what);
      const outcome = end.guard?.killedAt ? 'killed' : end.status;
      const detected = end.guard?.killedAt ? `${((Date.parse(end.guard.killedAt) - Date.parse(started.createdAt)) / 1000).toFixed(2)}s` : '?';
      rows.push({ what, strategy: 'flag', outcome, expected: 'killed', durationMs: Date.now() - t0, stats });
      flagSummary = `guarded flag ${FAULTY_FLAG}: killed by its guard ${detected} after its rollout began (at 10%); ${stats.failed} user requests failed meanwhile; the flag is off, an incident is open`;
      say(`${what}: ${outcome} ${detected} after the rollout began: ${end.reason ?? ''}`);
    }

    // The whole path from source to production, as a team runs it every day.
    load.setPhase('pipeline v5');
    const t0 = Date.now();
    const src = await makeDemoSource(join(work, 'source'), { version: 'v5', latencyMs: 2 });
    say('pipeline: releasing v5 from source: build, test (JUnit gate), staging, staging healthy (automatic approval), sign-off (manual), production canary with analysis');
    const run = await client.startRun({ pipeline: 'demo' }, { archive: packDir(await checkReleaseDir(src)), version: 'v5', ...(await commitOf(src)) });
    const finalRun = await followPipeline(client, signer, run.id);
    await new Promise((r) => setTimeout(r, 300));
    rows.push({ what: 'pipeline v5', strategy: 'canary', outcome: finalRun.status, expected: 'succeeded', durationMs: Date.now() - t0, stats: load.phaseStats('pipeline v5') });
    say(`pipeline: run ${finalRun.status} in ${formatDuration(Date.now() - t0)}: ${finalRun.message}`);

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
    if (flagSummary) process.stdout.write(`${flagSummary}\n`);
    for (const r of bad) process.stdout.write(`  ✗ ${r.what}: ${r.outcome} (expected ${r.expected}), ${r.stats.failed} failed ${JSON.stringify(r.stats.reasons)}\n`);
    const status = await client.status({ app: 'demo', env: 'production' });
    process.stdout.write(`\nproduction now serves ${status[0]?.currentVersion ?? '?'}; ${bad.length === 0 ? 'every step behaved' : `${bad.length} step(s) misbehaved`}\n`);

    const dora = await client.dora({ app: 'demo', env: 'production', since: '1d' });
    process.stdout.write(`\n${doraTable(dora)}\n`);

    if (ci) return bad.length === 0 ? 0 : 1;
    process.stdout.write(`\nThe platform keeps running:\n  API        ${p.url}  (token in ${join(dataDir, 'api.token')})\n  production ${prodUrl}\n  staging    http://127.0.0.1:${stagingPort}\nTry: ROLLGATE_SERVER=${p.url} ROLLGATE_TOKEN=$(cat ${join(dataDir, 'api.token')}) node packages/rollgate/bin/rollgate.js status\nPress Ctrl-C to stop.\n`);
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

/** Polls a flag rollout until it is no longer running (killed by its guard, completed, or stopped). */
async function waitForRollout(client: ApiClient, id: string, flag: string): Promise<RolloutView> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = (await flagRolloutsClient(client).history('demo', 'production', flag)).find((x) => x.id === id);
    if (r && r.status !== 'running') return r;
    if (Date.now() > deadline) throw new Error(`flag rollout ${id} still ${r?.status ?? 'missing'} after 2 minutes: ${r?.reason ?? ''}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function commitOf(dir: string): Promise<{ commitSha?: string; commitTime?: string }> {
  const c = await readCommit(dir);
  return c ? { commitSha: c.sha, commitTime: c.time } : {};
}

/** Prints each stage as it moves; gives the production sign-off as the release manager would. */
async function followPipeline(client: ApiClient, signer: ApiClient, id: string): Promise<RunView> {
  const said = new Map<string, string>();
  let approved = false;
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    const v = await client.run(id);
    for (const s of v.stages) {
      const key = `${s.status}`;
      if (s.status === 'pending' || said.get(s.name) === key) continue;
      said.set(s.name, key);
      say(`  ${s.name}: ${s.status}${s.message ? ` — ${s.message}` : ''}`);
    }
    const signOff = v.stages.find((s) => s.name === 'sign-off');
    if (!approved && signOff?.status === 'waiting') {
      approved = true;
      const refused = await client.runAction(id, 'approve', {}).then(
        () => 'accepted (separation of duties did not hold!)',
        (e: Error) => e.message,
      );
      say(`  sign-off: rita tries to approve her own release: ${refused}`);
      if (!/separation of duties/.test(refused)) throw new Error(`rita approved her own release: ${refused}`);
      say('  sign-off: sam approves for production (rollgate approve)');
      await signer.runAction(id, 'approve', { reason: 'staging healthy, demo sign-off' });
    }
    if (!['queued', 'running', 'waiting'].includes(v.status)) return v;
    if (Date.now() > deadline) throw new Error(`pipeline run ${id} still ${v.status} after 5 minutes: ${v.message}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`demo failed: ${e.message}\n`);
    process.exit(1);
  },
);
