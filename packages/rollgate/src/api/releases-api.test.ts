/**
 * Release bounds and retention against the real server and agent (issue 9, items 5 and 7): a
 * gzip bomb, too many files and refused entry types answer 413/400 over HTTP and leave nothing;
 * `rollgate releases list|prune` (the real CLI process) shows what runs, is stable or is a
 * rollback target and never prunes those; the automatic policy prunes after a deployment.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgent } from '../agent/main.js';
import { ApiClient } from '../cli/client.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import type { ReleaseView } from '../engine/release-retention.js';
import { silentLogger } from '../engine/logger.js';
import { runServer, type RunningServer } from '../server/main.js';
import { craftTarGz } from '../test/tar-craft.js';
import { rollgate, until, type Run } from '../test/cli-run.js';

const MiB = 1024 * 1024;
let work: string;
let agent: Awaited<ReturnType<typeof runAgent>>;
let server: RunningServer;
let client: ApiClient;
let releasesDir: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-releases-api-'));
  const dataDir = join(work, 'server');
  releasesDir = join(dataDir, 'releases');
  agent = await runAgent({ dataDir: join(work, 'agent'), log: () => {} });
  server = await runServer({
    dataDir,
    port: 0,
    agent: { url: agent.url, token: agent.token },
    log: { ...silentLogger, error: (m: string, f?: unknown) => console.error('SERVER', m, JSON.stringify(f)) },
    releases: { maxUnpackedBytes: 10 * MiB, maxFiles: 100, keep: 2 },
  });
  client = new ApiClient(server.url, server.token);
  const health = { path: '/healthz', interval: '200ms', timeout: '1s', startTimeout: '15s' };
  await client.applySpec({
    apps: { shop: { run: 'node server.js', portEnv: 'PORT', replicas: 1, drainTimeout: '1s', healthCheck: health } },
    environments: {
      staging: { listen: await freePort(), analysis: false, strategy: { rolling: {} } },
      production: { listen: await freePort(), analysis: false, strategy: { rolling: {} } },
    },
  });
});

let agentStopped = false;
after(async () => {
  await server?.stop();
  if (!agentStopped) await agent?.stop();
  await rm(work, { recursive: true, force: true });
});

async function post(path: string, body: Buffer): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/gzip' } });
  return { status: res.status, json: (await res.json()) as { error?: { code: string; message: string } } };
}

async function nothingKept(): Promise<void> {
  assert.deepEqual(await client.releases('shop'), []);
  assert.deepEqual(await readdir(join(releasesDir, 'shop')).catch(() => []), []);
  assert.deepEqual(await readdir(join(releasesDir, '.incoming')).catch(() => []), []);
}

test('over HTTP: a gzip bomb and too many files are 413 naming the limit; devices and hardlinks are 400 naming the entry', async () => {
  const bomb = craftTarGz([{ path: 'server.js', type: '0', body: 'x' }, { path: 'big.bin', type: '0', body: Buffer.alloc(64 * MiB) }]);
  assert.ok(bomb.length < 200 * 1024, `the bomb is ${bomb.length} bytes compressed`);
  const r1 = await post('/v1/apps/shop/releases?version=bomb', bomb);
  assert.equal(r1.status, 413, JSON.stringify(r1.json));
  assert.equal(r1.json.error?.code, 'payload_too_large');
  assert.match(r1.json.error?.message ?? '', /unpacks to more than 10 MiB .*--release-max-unpacked/);
  await nothingKept();

  const many = craftTarGz(Array.from({ length: 101 }, (_, i) => ({ path: `f${i}`, type: '0', body: 'x' })));
  const r2 = await post('/v1/apps/shop/releases?version=many', many);
  assert.equal(r2.status, 413);
  assert.match(r2.json.error?.message ?? '', /holds more than 100 entries.*--release-max-files/);
  await nothingKept();

  for (const [entry, re] of [
    [{ path: 'tty', type: '3' }, /"tty" is a character device/],
    [{ path: 'again.js', type: '1', linkpath: 'server.js' }, /"again\.js" is a hardlink/],
  ] as const) {
    const r = await post('/v1/apps/shop/releases?version=odd', craftTarGz([{ path: 'server.js', type: '0', body: 'x' }, entry]));
    assert.equal(r.status, 400);
    assert.match(r.json.error?.message ?? '', re);
    await nothingKept();
  }
});

// ---------------------------------------------------------------------------------------------

async function upload(version: string): Promise<void> {
  const dir = await makeDemoRelease(join(work, 'builds'), { version });
  await client.uploadRelease('shop', packDir(await checkReleaseDir(dir, { protect: [] })), { version });
}


async function deploy(env: string, version: string): Promise<void> {
  const d = await client.deploy({ app: 'shop', env, version });
  const final = await until(`${version} to ${env}`, async () => {
    const v = await client.deployment(d.id);
    return ['succeeded', 'failed', 'rolled_back', 'aborted'].includes(v.status) ? v : null;
  });
  assert.equal(final.status, 'succeeded', `${version} to ${env}: ${final.message}`);
  // The replaced version drains after the deployment ends: wait until only the new one runs there.
  await until(`only ${version} to run in ${env}`, async () => {
    const [s] = await client.status({ app: 'shop', env });
    return s && s.versions.every((v) => v.version === version || v.instances.length === 0);
  });
}

const byVersion = (list: ReleaseView[]) => Object.fromEntries(list.map((r) => [r.version, r]));
const roles = (r: ReleaseView | undefined) => (r?.uses ?? []).map((u) => `${u.role}@${u.env}`).sort();

function cli(args: string[]): Promise<Run> {
  return rollgate(work, args, 120_000, { ...process.env, ROLLGATE_TOKEN: server.token!, ROLLGATE_SERVER: server.url });
}

test('retention never prunes what runs, is stable or is a rollback target; list shows them; the automatic policy prunes after a deployment', async () => {
  for (const v of ['v1', 'v2', 'v3']) await upload(v);
  await deploy('production', 'v1');
  await deploy('production', 'v2');
  await deploy('staging', 'v3');
  for (const v of ['v4', 'v5']) await upload(v);

  // What the CLI lists: production runs v2 with v1 as its rollback target, staging runs v3.
  const listed = await cli(['releases', 'list', 'shop']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /v2 .*running in production.*stable in production/);
  assert.match(listed.stdout, /v1 .*rollback target in production/);
  assert.match(listed.stdout, /v3 .*running in staging.*stable in staging/);
  const before = byVersion(await client.releases('shop'));
  assert.deepEqual(roles(before.v2), ['running@production', 'stable@production']);
  assert.deepEqual(roles(before.v1), ['rollback-target@production']);
  assert.deepEqual(roles(before.v3), ['running@staging', 'stable@staging']);
  assert.deepEqual(roles(before.v4), []);

  // A dry run changes nothing.
  const dry = JSON.parse((await cli(['releases', 'prune', 'shop', '--keep', '0', '--dry-run', '--json'])).stdout) as { pruned: { version: string }[] };
  assert.deepEqual(dry.pruned.map((p) => p.version).sort(), ['v4', 'v5']);
  assert.ok(existsSync(before.v4!.artifactDir));

  // --keep 0: every unused release goes; the protected ones stay whatever N says.
  const pruned = await cli(['releases', 'prune', 'shop', '--keep', '0']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /pruned 2 release\(s\) of shop: v5, v4/);
  assert.match(pruned.stdout, /kept v1: rollback target in production/);
  const after = byVersion(await client.releases('shop'));
  for (const v of ['v4', 'v5']) {
    assert.ok(after[v]!.prunedAt, `${v} is marked pruned (the record stays)`);
    assert.equal(existsSync(after[v]!.artifactDir), false, `${v}'s files are gone`);
  }
  for (const v of ['v1', 'v2', 'v3']) {
    assert.equal(after[v]!.prunedAt, null);
    assert.ok(existsSync(after[v]!.artifactDir), `${v}'s files are kept`);
  }
  // The prune is on the audit trail.
  const audit = (await fetch(`${server.url}/v1/audit?action=apps.releases.prune`, { headers: { authorization: `Bearer ${server.token}` } }).then((r) => r.json())) as { action: string; outcome: string }[];
  assert.ok(audit.some((e) => e.action === 'apps.releases.prune' && e.outcome === 'ok'), JSON.stringify(audit));

  // A pruned release cannot be deployed; uploading the same build brings it back.
  await assert.rejects(client.deploy({ app: 'shop', env: 'staging', version: 'v4' }), /release v4 of "shop" was pruned .*upload the same build again/);
  await upload('v4');
  assert.equal(byVersion(await client.releases('shop')).v4!.prunedAt, null);
  assert.ok(existsSync(byVersion(await client.releases('shop')).v4!.artifactDir));

  // The automatic policy (keep 2) after a successful deployment: v8 and v7 are the newest; v8
  // goes to staging; v3 becomes staging's rollback target; the unused v4 is pruned.
  for (const v of ['v6', 'v7', 'v8']) await upload(v);
  await deploy('staging', 'v8');
  const auto = await until('automatic pruning', async () => {
    const m = byVersion(await client.releases('shop'));
    return m.v4?.prunedAt && m.v6?.prunedAt ? m : null;
  });
  assert.equal(auto.v7!.prunedAt, null, 'v7 is one of the 2 newest besides v8');
  assert.equal(auto.v8!.prunedAt, null);
  for (const v of ['v1', 'v2', 'v3']) assert.equal(auto[v]!.prunedAt, null, `${v} is protected`);
  assert.deepEqual(roles(auto.v3), ['rollback-target@staging']);
  const sys = (await fetch(`${server.url}/v1/audit?action=release.prune`, { headers: { authorization: `Bearer ${server.token}` } }).then((r) => r.json())) as { actor: string }[];
  assert.ok(sys.length >= 2 && sys.every((e) => e.actor === 'system'), JSON.stringify(sys));
});

test('with the data plane down, the list still answers (saying it cannot tell what runs) and nothing is pruned', async () => {
  const before = await client.releases('shop');
  await agent.stop();
  agentStopped = true;
  const list = await client.releases('shop');
  assert.ok(list.length > 0 && list.every((r) => !r.runningKnown));
  assert.ok(list.every((r) => r.uses.every((u) => u.role !== 'running')));
  await assert.rejects(client.pruneReleases('shop', { keep: 0 }), (e: unknown) => e instanceof Error && /cannot tell which releases of "shop" run .*nothing was pruned/.test(e.message));
  assert.deepEqual(
    (await client.releases('shop')).map((r) => [r.version, r.prunedAt]),
    before.map((r) => [r.version, r.prunedAt]),
  );
});
