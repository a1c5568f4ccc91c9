/**
 * Issue 9, items 3 and 4, as the attack ran them, against real `rollgate agent` and `rollgate
 * server` processes (SQLite and PostgreSQL): the server runs with cloud keys and a webhook
 * secret in its environment; a pipeline stage runs `env` and prints two app secrets in every
 * encoding (JSON-escaped, base64/base64url at each alignment, hex, URL- and form-encoded, and
 * with the real `base64` and `xxd` tools); an app instance prints them too. A viewer reads the
 * stage log (page and live stream) and the instance log through the API: no variable of the
 * server shows, the stage's HOME is its run's own, and no secret shows in any form. The server
 * is restarted before the run, so the stage log is masked with secrets it learned at start.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApiClient } from '../../cli/client.js';
import { createToken, createUser } from '../../cli/client-auth.js';
import { setSecret } from '../../cli/client-secrets.js';
import { checkReleaseDir, packDir } from '../../cli/pack.js';
import { REPO_ROOT, freePort } from '../../demo/fixtures.js';
import { waitForDeployment } from '../../demo/platform.js';
import { MIN_MASKED_LENGTH } from '../../core/secret-masker.js';
import { SplitPlatform, until } from '../../test/split-platform.js';
import { withPostgres, type TestDatabase } from '../../test/pg.js';
import type { RunView } from './pipelines.js';

const FIXTURE = join(REPO_ROOT, 'packages', 'rollgate', 'test-fixtures', 'leak');
const { forms } = (await import(pathToFileURL(join(FIXTURE, 'forms.mjs')).href)) as { forms: (v: string) => [string, string, string][] };

/** The server's own environment: none of it may reach a stage or its log. */
const SERVER_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIAROLLGATETESTKEY01',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYrollgateKEY',
  PIPELINE_WEBHOOK_SECRET: 'whsec_server_only_value_9f3b',
};
const SECRETS = {
  DB_PASSWORD: 'pa"ss\\wörd/+ 𝄞 &x=1?~',
  SIGNING_KEY: `-k3y-${'0123456789abcdefghijklmnopqrstuvwxyz+/"\\'.repeat(3)}-end`,
};

/** A run of MIN_MASKED_LENGTH characters of some secret's encoding that is in `text`, if any. */
function leakIn(text: string): string | null {
  for (const [name, value] of Object.entries(SECRETS)) {
    const regions = forms(value).map(([label, , region]) => [label, region] as const);
    regions.push(['base64 of the file', Buffer.from(value).toString('base64').replace(/=+$/, '').slice(0, -1)]);
    for (const [label, region] of regions) {
      for (let i = 0; i + MIN_MASKED_LENGTH <= region.length; i++) {
        const w = region.slice(i, i + MIN_MASKED_LENGTH);
        if (text.includes(w)) return `${name} (${label}): "${w}"`;
      }
    }
  }
  return null;
}

function leakSuite(name: string, database: () => TestDatabase | null) {
  describe(name, () => {
    let work: string;
    let platform: SplitPlatform;
    let admin: ApiClient;
    let viewer: ApiClient;
    let apiPort: number;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'rollgate-stage-leak-'));
      const db = database();
      platform = new SplitPlatform(join(work, '.rollgate'), { ...SERVER_ENV, ...(db ? { ROLLGATE_DATABASE_URL: db.url } : {}) });
      await platform.startAgent();
      apiPort = await freePort();
      admin = await platform.startServer(apiPort);
      await createUser(admin, { name: 'vera', roles: ['viewer'], generatePassword: true });
      viewer = new ApiClient(`http://127.0.0.1:${apiPort}`, (await createToken(admin, { user: 'vera', name: 'reads-logs', expires: '1d' })).token);
    });

    after(async () => {
      await platform?.stopAll();
      await rm(work, { recursive: true, force: true });
    });

    test('a stage sees no server variable, and no secret reaches a viewer in any form, from a stage or an instance', async () => {
      const port = await freePort();
      await admin.applySpec({
        apps: { vault: { run: 'SHOW=DB_PASSWORD,SIGNING_KEY node app.mjs', replicas: 1, drainTimeout: '1s', healthCheck: { path: '/', interval: '100ms', startTimeout: '10s' } } },
        environments: { staging: { listen: port, analysis: false, progressDeadline: '30s' } },
        pipelines: {
          leak: {
            app: 'vault',
            stages: [{ name: 'print', run: { command: 'env; node leak.mjs secret.txt signing.txt; base64 signing.txt; base64 -w0 secret.txt; echo; if command -v xxd >/dev/null; then xxd -p signing.txt; fi; node long-line.mjs secret.txt', env: { GREETING: 'hello' } } }],
          },
          // A gate's verdict quotes the failing test, and the test quotes the secret.
          gate: {
            app: 'vault',
            stages: [
              { name: 'test', run: { command: 'node junit.mjs secret.txt', artifacts: ['reports/junit.xml'] } },
              { name: 'junit', gate: { junit: { path: 'reports/junit.xml' } } },
            ],
          },
        },
      });
      for (const [k, v] of Object.entries(SECRETS)) await setSecret(admin, 'vault', 'staging', k, Buffer.from(v));

      // A fresh server knows the secrets only from the store: nothing has resolved them yet.
      await platform.killServer();
      admin = await platform.startServer(apiPort);

      const src = join(work, 'src');
      await cp(FIXTURE, src, { recursive: true });
      await writeFile(join(src, 'secret.txt'), SECRETS.DB_PASSWORD);
      await writeFile(join(src, 'signing.txt'), SECRETS.SIGNING_KEY);
      const started = await admin.startRun({ pipeline: 'leak' }, { archive: packDir(await checkReleaseDir(src)) });
      const run = await until(
        'the run to end',
        async () => {
          const v: RunView = await admin.run(started.id);
          return ['queued', 'running', 'waiting'].includes(v.status) ? null : v;
        },
        60_000,
      );
      assert.equal(run.status, 'succeeded', JSON.stringify(run.stages.map((s) => `${s.name}: ${s.message}`)));

      // The viewer's live stream (replay, then the end: every line is stored by then), and a page of the stage log.
      const streamed: string[] = [];
      const ac = new AbortController();
      const stop = setTimeout(() => ac.abort(), 15_000);
      try {
        for await (const l of viewer.followRunLogs(run.id, { signal: ac.signal })) streamed.push(l.text);
      } finally {
        clearTimeout(stop);
      }
      const lines = (await viewer.runLogs(run.id, { limit: 5000 })).lines.map((l) => l.text);
      assert.ok(lines.some((l) => l.startsWith('stage succeeded')), 'the whole log was read');
      assert.deepEqual(streamed, lines, 'the stream shows what the page shows');
      const text = lines.join('\n');

      // The environment: what the stage declared, PATH, HOME (the run's own), LANG, the marker; nothing of the server.
      const envLines = lines.filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l));
      const names = new Set(envLines.map((l) => l.slice(0, l.indexOf('='))));
      for (const n of ['PWD', 'SHLVL', '_', 'OLDPWD']) names.delete(n);
      // An isolated command also gets TMPDIR (the sandbox's /tmp).
      names.delete('TMPDIR');
      assert.deepEqual([...names].sort(), ['GREETING', 'HOME', 'LANG', 'PATH', 'ROLLGATE_STAGE_MARKER'], `the stage's environment: ${envLines.join(' | ')}`);
      for (const [k, v] of Object.entries(SERVER_ENV)) {
        assert.ok(!text.includes(k) && !text.includes(v), `the server's ${k} reached the stage log`);
      }
      const home = envLines.find((l) => l.startsWith('HOME='))!.slice('HOME='.length);
      assert.equal(home, join(work, '.rollgate', 'workspaces', `${run.id}.home`));
      assert.notEqual(home, process.env.HOME);

      // Every form was printed, and every one is masked.
      for (const file of ['secret.txt', 'signing.txt']) {
        for (const [label] of forms(file === 'secret.txt' ? SECRETS.DB_PASSWORD : SECRETS.SIGNING_KEY)) {
          const line = lines.find((l) => l.startsWith(`${file} ${label}: `));
          // The log (masked) says why when a form is missing, e.g. the file could not be read.
          assert.ok(line, `the stage printed ${file} ${label}; its log without the environment: ${lines.filter((l) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(l)).slice(0, 30).join(' | ')}`);
          assert.match(line, /\[secret:(DB_PASSWORD|SIGNING_KEY)\]/, `${file} ${label} is masked: ${line}`);
        }
      }
      assert.ok(lines.filter((l) => /^\[secret:SIGNING_KEY\].{0,2}$/.test(l)).length >= 2, 'the wrapped output of base64(1) is masked line by line');
      // A line over the 16 KiB limit, cut 8 hex digits into the secret: what is left of it is hidden too.
      const long = lines.find((l) => l.startsWith('zzzz'));
      assert.ok(long?.endsWith('[secret:DB_PASSWORD]…[cut]'), `the cut line ends masked: …${long?.slice(-40)}`);
      assert.equal(leakIn(text), null, 'a secret reached the stage log');

      // The gate fails, naming the failing test: its message and result reach the viewer masked.
      const gateRun = await admin.startRun({ pipeline: 'gate' }, { archive: packDir(await checkReleaseDir(src)) });
      const gated = await until(
        'the gate run to end',
        async () => {
          const v: RunView = await viewer.run(gateRun.id);
          return ['queued', 'running', 'waiting'].includes(v.status) ? null : v;
        },
        60_000,
      );
      const junit = gated.stages.find((st) => st.name === 'junit')!;
      assert.equal(junit.status, 'failed', JSON.stringify(gated.stages.map((st) => `${st.name}: ${st.message}`)));
      const seen = JSON.stringify(gated) + JSON.stringify(await viewer.runLogs(gateRun.id, { limit: 1000 }));
      assert.match(seen, /\[secret:DB_PASSWORD\]/, 'the failing test is quoted, masked');
      assert.equal(leakIn(seen), null, "a secret reached the gate stage's message or result");

      // The instance prints them too; the viewer reads its log masked.
      const release = join(work, 'release');
      await cp(FIXTURE, release, { recursive: true });
      await admin.uploadRelease('vault', packDir(await checkReleaseDir(release)), { version: 'v1' });
      const d = await admin.deploy({ app: 'vault', env: 'staging', version: 'v1' });
      assert.equal((await waitForDeployment(admin, d.id, 60_000)).status, 'succeeded');
      // stdout and stderr are separate pipes: wait for every line of both.
      const expected = Object.entries(SECRETS).flatMap(([name, value]) => forms(value).map(([label]) => `${name} ${label}: `));
      const logs = await until('the app output', async () => {
        const got = (await viewer.logs({ app: 'vault', env: 'staging', tail: 1000 })).lines.map((l) => l.text);
        return expected.every((e) => got.some((l) => l.startsWith(e))) ? got : null;
      });
      for (const [name, value] of Object.entries(SECRETS)) {
        for (const [label] of forms(value)) {
          const line = logs.find((l) => l.startsWith(`${name} ${label}: `));
          assert.ok(line, `the app printed ${name} ${label}`);
          assert.match(line, new RegExp(`\\[secret:${name}\\]`), `${name} ${label} is masked: ${line}`);
        }
      }
      assert.equal(leakIn(logs.join('\n')), null, 'a secret reached the instance log');
    });
  });
}

leakSuite('stage environment and encoded secrets on SQLite', () => null);

await withPostgres('stage environment and encoded secrets on PostgreSQL', (db) => {
  leakSuite('stage environment and encoded secrets on PostgreSQL', () => db);
  after(() => db.drop());
});
