/**
 * Items 12 and 13 of issue 9. A developer (deploy outside production, no spec.apply) deploys
 * with `rollgate deploy`. The same spec as the server's: nothing is applied, nothing refused. A
 * spec that differs: the CLI says what differs, deploys with the server's spec, and the server's
 * spec stays as it was. An admin's differing spec is applied. Prototype keys and an alias bomb
 * are invalid input (exit 2, HTTP 400). Real `rollgate up`, real CLI.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import { rollgate, type Run } from '../test/cli-run.js';
import { startPlatform, waitForDeployment, type Platform } from '../demo/platform.js';
import { parseSpec } from '../core/spec-load.js';
import { channelsDigest } from '../api/spec-view.js';
import { until } from '../test/split-platform.js';
import { createTestDatabase, requireAllBackends, type TestDatabase } from '../test/pg.js';
import { createToken, createUser } from './client-auth.js';
import { specDifferences } from './spec-sync.js';

let work: string;
let p: Platform;
let devToken: string;
let stagingPort: number;
let qaPort: number;

const spec = (replicas: number, extra = '') => `apps:
  web:
    run: node server.js
    replicas: ${replicas}
    drainTimeout: 1s
    healthCheck: { path: /healthz, interval: 100ms }
environments:
  staging:
    listen: ${stagingPort}
    analysis: false
${extra}`;


function cli(args: string[], token: string): Promise<Run> {
  return rollgate(work, args, 120_000, { PATH: process.env.PATH, HOME: join(work, 'home'), ROLLGATE_SERVER: p.url, ROLLGATE_TOKEN: token });
}

interface DeployDoc {
  deployment: { id: string; status: string };
  spec: { differences: string[]; applied: boolean; usedServerSpec: boolean };
}

async function deploy(token: string, version: string): Promise<{ run: Run; doc: DeployDoc }> {
  const dir = await makeDemoRelease(join(work, 'rel'), { version });
  const run = await cli(['deploy', 'web', '--env', 'staging', '--path', dir, '--version', version, '--wait', '--json'], token);
  let doc: DeployDoc;
  try {
    doc = JSON.parse(run.stdout) as DeployDoc;
  } catch {
    assert.fail(`deploy ${version}: exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
  return { run, doc };
}

const serverReplicas = async () => ((await p.client.appliedSpec()).apps.web as { replicas: number }).replicas;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'rollgate-deploy-spec-'));
  mkdirSync(join(work, 'home'));
  stagingPort = await freePort();
  qaPort = await freePort();
  writeFileSync(join(work, 'rollgate.yaml'), spec(1));
  p = await startPlatform({ dataDir: join(work, '.rollgate'), port: await freePort(), cwd: work, quiet: true });
  // `up` applies rollgate.yaml just after its server answers.
  await until('up to apply rollgate.yaml', async () => Object.hasOwn((await p.client.appliedSpec()).apps, 'web'));
  await createUser(p.client, { name: 'dana', roles: ['developer'], generatePassword: true });
  devToken = (await createToken(p.client, { user: 'dana', name: 'dana', expires: '1d' })).token;
});

after(async () => {
  await p?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('a developer deploys to staging with the spec the server has: nothing to apply, no spec.apply needed', async () => {
  const { run, doc } = await deploy(devToken, 'v1');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(doc.spec, { differences: [], applied: false, usedServerSpec: false });
  assert.equal(doc.deployment.status, 'succeeded');
  assert.equal(run.stderr, '', 'no warning');
});

test("a developer's differing spec is not applied: the CLI names what differs and deploys with the server's", async () => {
  writeFileSync(join(work, 'rollgate.yaml'), spec(2, `  qa:\n    listen: ${qaPort}\n`));
  const { run, doc } = await deploy(devToken, 'v2');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(doc.spec, { differences: ['app web', 'environment qa (not on the server)'], applied: false, usedServerSpec: true });
  assert.match(run.stderr, /warning: your rollgate\.yaml differs from the server's spec \(app web, environment qa \(not on the server\)\), and you may not apply it \(that needs spec\.apply\); so this deployment uses the server's spec/);
  assert.equal(await serverReplicas(), 1, "the server's spec is unchanged");
  assert.equal((await p.client.status({ app: 'web', env: 'staging' }))[0]?.versions.find((v) => v.version === 'v2')?.desiredReplicas, 1, "deployed with the server's replicas");
  // Human output says it too.
  const human = await cli(['deploy', 'web', '--env', 'staging', '--path', await makeDemoRelease(join(work, 'rel'), { version: 'v2b' }), '--version', 'v2b'], devToken);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stderr, /differs from the server's spec \(app web, environment qa/);
  assert.equal((await waitForDeployment(p.client, (await p.client.deployments({ app: 'web', env: 'staging', limit: 1 }))[0]!.id)).status, 'succeeded');
});

test("an admin's differing spec is applied first, then deployed", async () => {
  const { run, doc } = await deploy(p.token, 'v3');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(doc.spec, { differences: ['app web', 'environment qa (not on the server)'], applied: true, usedServerSpec: false });
  assert.equal(await serverReplicas(), 2);
  assert.equal(run.stderr, '');
  // And now the developer's spec is the server's: nothing differs.
  const again = await deploy(devToken, 'v4');
  assert.deepEqual(again.doc.spec, { differences: [], applied: false, usedServerSpec: false });
});

test('specDifferences: what applying would change, and nothing for an equal spec', () => {
  const local = parseSpec(`apps:\n  a: { run: x }\n  b: { run: y }\nenvironments:\n  s: { listen: 1 }\nnotifications:\n  channels:\n    - { name: c, kind: slack, urlEnv: SLACK_URL, events: ['*'] }\npipelines:\n  p: { app: a, stages: [{ name: one, run: { command: 'true' } }] }\n`);
  const same = { apps: { ...local.apps }, environments: { ...local.environments }, pipelines: { ...local.pipelines }, notifications: { channels: 1, sha256: channelsDigest(local.notifications!.channels) } };
  assert.deepEqual(specDifferences(local, JSON.parse(JSON.stringify(same)) as typeof same), []);
  const other = { ...same, apps: { a: { ...local.apps.a!, replicas: 5 } }, pipelines: { q: local.pipelines.p! }, notifications: null };
  assert.deepEqual(specDifferences(local, other), ['app a', 'app b (not on the server)', 'pipeline p (not on the server)', 'pipeline q (only on the server)', 'notification channels']);
});

test('prototype keys: `rollgate validate` exits 2 naming file:line:column and the path; the API answers 400 and changes nothing', async () => {
  writeFileSync(join(work, 'proto.yaml'), `apps:\n  web: { run: x }\n  __proto__: { run: y }\nenvironments: {}\n`);
  const v = await cli(['validate', '--file', 'proto.yaml'], devToken);
  assert.equal(v.code, 2, v.stderr);
  assert.match(v.stderr, /proto\.yaml:3:3: apps\.__proto__: key "__proto__" is not allowed/);
  const before = JSON.stringify(await p.client.appliedSpec());
  const res = await fetch(`${p.url}/v1/spec`, {
    method: 'POST',
    headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' },
    body: `{"spec":{"apps":{"web":{"run":"x"},"__proto__":{"run":"y"}},"environments":{}}}`,
  });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /spec\.apps\.__proto__/);
  assert.equal(JSON.stringify(await p.client.appliedSpec()), before);
});

test('an alias bomb: `rollgate validate` exits 2 (invalid input), not 1', async () => {
  let text = 'a: &a [x, x, x, x, x, x, x, x, x]\n';
  let prev = 'a';
  for (let i = 0; i < 9; i++) {
    text += `b${i}: &b${i} [${Array(9).fill(`*${prev}`).join(', ')}]\n`;
    prev = `b${i}`;
  }
  writeFileSync(join(work, 'bomb.yaml'), text);
  const v = await cli(['validate', '--file', 'bomb.yaml', '--json'], devToken);
  assert.equal(v.code, 2, v.stderr);
  assert.equal((JSON.parse(v.stdout) as { error: { code: string } }).error.code, 'invalid_spec');
  assert.match(v.stderr, /bomb\.yaml:1:1: cannot be read: .*alias/i);
});

/** The comparison is over what the store gives back: on PostgreSQL too (jsonb reorders keys). */
const RICH = (port: number) => `apps:
  web:
    run: node server.js
    replicas: 2
    healthCheck: { path: /healthz }
    environments:
      staging: { replicas: 1 }
environments:
  staging:
    listen: ${port}
    strategy:
      canary:
        steps: [{ setWeight: 20 }, { pause: { duration: 10s } }]
notifications:
  channels:
    - { name: chat, kind: slack, urlEnv: SPEC_TEST_SLACK_URL, events: ['deployment.*'] }
pipelines:
  web:
    app: web
    stages:
      - { name: build, run: { command: "true" } }
      - { name: ship, deploy: { env: staging } }
`;

for (const backend of ['SQLite', 'PostgreSQL'] as const) {
  test(`a spec read back from the server (${backend}) compares equal to the file it came from`, async (t) => {
    let db: TestDatabase | null = null;
    if (backend === 'PostgreSQL') {
      try {
        db = await createTestDatabase();
      } catch (e) {
        if (requireAllBackends()) throw e;
        t.skip(String(e));
        return;
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'rollgate-spec-rt-'));
    const text = RICH(await freePort());
    writeFileSync(join(dir, 'rollgate.yaml'), text);
    const env: NodeJS.ProcessEnv = { SPEC_TEST_SLACK_URL: 'https://hooks.slack.invalid/T0/B0/secret', ...(db ? { ROLLGATE_DATABASE_URL: db.url } : {}) };
    const q = await startPlatform({ dataDir: join(dir, '.rollgate'), port: await freePort(), cwd: dir, env, quiet: true });
    try {
      // `up` applies the file just after its server answers.
      const server = await until('up to apply the file', async () => {
        const v = await q.client.appliedSpec();
        return Object.keys(v.pipelines).length > 0 ? v : null;
      });
      assert.deepEqual(Object.keys(server.pipelines), ['web']);
      assert.deepEqual(specDifferences(parseSpec(text), server), []);
      assert.ok(!JSON.stringify(server).includes('hooks.slack.invalid'), 'channels only as a digest');
      assert.deepEqual(specDifferences(parseSpec(text.replace('setWeight: 20', 'setWeight: 30')), server), ['environment staging']);
    } finally {
      await q.stop();
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
