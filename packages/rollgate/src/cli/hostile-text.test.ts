/**
 * Attack 11 of issue 9: text from the server (a `fail --reason`, an incident title, an app's log
 * lines) carrying escape sequences, carriage returns, newlines and bidi overrides is shown
 * escaped by every command, and --json keeps the exact value. Real `rollgate up`, real CLI
 * processes; a live block rendered to a fake terminal for the TTY view.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { DeploymentView } from '../api/contract.js';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import { rollgate, type Run } from '../test/cli-run.js';
import { startPlatform, waitForDeployment, type Platform } from '../demo/platform.js';
import { until } from '../test/split-platform.js';
import { checkReleaseDir, packDir } from './pack.js';
import { LiveBlock, renderLive } from './progress.js';
import { Output } from './output.js';
import { oneLine, terminalJson, terminalText } from './terminal-text.js';

/** Clears the screen, sets the window title, returns to column 0 to overwrite, fakes a line, reverses text. */
const EVIL = '\x1b[2J\x1b[H\x1b]0;pwned\x07\rdeployment succeeded\n\u202eevil\u2066\u200b\x9b31m\x7f\ufeff';
/** What must never reach a terminal raw: every control but newline and tab, C1, bidi and invisible format characters. */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;

let work: string;
let p: Platform;
let failed: DeploymentView;


function cli(args: string[]): Promise<Run> {
  return rollgate(work, args, 120_000, { PATH: process.env.PATH, HOME: join(work, 'home'), ROLLGATE_SERVER: p.url, ROLLGATE_TOKEN: p.token });
}

function assertClean(r: Run, what: string): void {
  for (const [name, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
    const m = RAW.exec(text);
    assert.equal(m, null, `${what}: raw U+${m?.[0].charCodeAt(0).toString(16).padStart(4, '0')} on ${name} at ${m?.index}: ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 60), (m?.index ?? 0) + 20))}`);
    assert.doesNotMatch(text, /^deployment succeeded/m, `${what}: a line of the server's text became a line of its own on ${name}`);
  }
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'rollgate-hostile-'));
  const stagingPort = await freePort();
  writeFileSync(
    join(work, 'rollgate.yaml'),
    `apps:
  web:
    run: node evil.js
    replicas: 1
    drainTimeout: 1s
    healthCheck: { path: /healthz, interval: 100ms }
environments:
  staging:
    listen: ${stagingPort}
    analysis: false
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {}
`,
  );
  mkdirSync(join(work, 'home'));
  p = await startPlatform({ dataDir: join(work, '.rollgate'), port: await freePort(), cwd: work, quiet: true });
  // `up` applies rollgate.yaml just after its server answers.
  await until('up to apply rollgate.yaml', async () => Object.hasOwn((await p.client.appliedSpec()).apps, 'web'));
  const release = async (version: string) => {
    const dir = await makeDemoRelease(join(work, 'rel'), { version });
    // The app prints the attack on both of its streams before serving.
    writeFileSync(join(dir, 'evil.js'), `const EVIL = ${JSON.stringify(EVIL)};\nprocess.stdout.write(EVIL + '\\n');\nprocess.stderr.write(EVIL + '\\n');\nawait import('./server.js');\n`);
    return p.client.uploadRelease('web', packDir(await checkReleaseDir(dir)), { version });
  };
  const v1 = await release('v1');
  assert.equal((await waitForDeployment(p.client, (await p.client.deploy({ app: 'web', env: 'staging', releaseId: v1.id })).id)).status, 'succeeded');
  const v2 = await release('v2');
  const dep = await p.client.deploy({ app: 'web', env: 'staging', releaseId: v2.id });
  await until('the canary to pause', async () => (await p.client.deployment(dep.id)).status === 'paused', 60_000);
  await p.client.openIncident({ app: 'web', env: 'staging', title: EVIL });
  // A developer's forced failure with the attack as its reason (as `rollgate fail --reason` sends it).
  await p.client.act(dep.id, 'fail', { reason: EVIL });
  failed = await waitForDeployment(p.client, dep.id);
  assert.ok(failed.message.includes(EVIL), `the server keeps the reason as given: ${JSON.stringify(failed.message)}`);
});

after(async () => {
  await p?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('status, history, logs, incidents and audit print no raw control, bidi or invisible character, and no line of the server\'s making', async () => {
  const runs: [string, string[]][] = [
    ['status', ['status', 'web', '--env', 'staging']],
    ['history', ['history', 'web']],
    ['logs', ['logs', 'web', '--env', 'staging', '--tail', '50']],
    ['incidents', ['incidents', '--status', 'all']],
    ['audit', ['audit', '--limit', '200']],
    ['audit export', ['audit', 'export']],
  ];
  for (const [what, args] of runs) {
    const r = await cli(args);
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    assertClean(r, what);
  }
  const logs = await cli(['logs', 'web', '--env', 'staging', '--tail', '50']);
  // Visible, not dropped: the reader sees that something was there.
  // (the agent keeps an app's output line by line: the attack is two lines of the log)
  assert.ok(logs.stdout.includes(' \\x1b[2J\\x1b[H\\x1b]0;pwned\\x07\\rdeployment succeeded\n'), logs.stdout);
  assert.ok(logs.stdout.includes(' \\u202eevil\\u2066\\u200b\\x9b31m\\x7f\\ufeff\n'), logs.stdout);
  const incidents = await cli(['incidents', '--status', 'all']);
  assert.match(incidents.stdout, /\\x1b\[2J/);
});

test('--json keeps every value exact, with the dangerous characters as \\u escapes', async () => {
  const dep = await cli(['history', 'web', '--json']);
  assertClean(dep, 'history --json');
  const list = JSON.parse(dep.stdout) as { id: string; message: string }[];
  assert.equal(list.find((d) => d.id === failed.id)?.message, failed.message, 'the same string the server holds');
  const inc = await cli(['incidents', '--status', 'all', '--json']);
  assertClean(inc, 'incidents --json');
  assert.ok((JSON.parse(inc.stdout) as { title: string }[]).some((i) => i.title === EVIL.trim()), 'the title as the server keeps it (trimmed)');
  const exp = await cli(['audit', 'export']);
  for (const line of exp.stdout.trim().split('\n')) JSON.parse(line);
  assert.ok(exp.stdout.includes('\\u202e'), 'the trail holds the attack (as an escape)');
  // The helper itself: same value back, nothing raw.
  const doc = { reason: EVIL, nested: [EVIL] };
  assert.deepEqual(JSON.parse(terminalJson(doc)), doc);
  assert.equal(RAW.exec(terminalJson(doc)), null);
});

test('following a deployment to its failure (deploy --wait, non-terminal) shows the reason escaped', async () => {
  // A fresh rollout, failed with the attack while `deploy --wait` follows it.
  const dir = await makeDemoRelease(join(work, 'rel'), { version: 'v3' });
  writeFileSync(join(dir, 'evil.js'), `await import('./server.js');\n`);
  const follow = cli(['deploy', 'web', '--env', 'staging', '--path', dir, '--version', 'v3', '--wait']);
  const active = await until('the v3 rollout to pause', async () => {
    const [d] = await p.client.deployments({ app: 'web', env: 'staging', limit: 1 });
    return d && d.version === 'v3' && d.status === 'paused' ? d : null;
  }, 60_000);
  await p.client.act(active.id, 'fail', { reason: EVIL });
  const r = await follow;
  assert.equal(r.code, 1, r.stderr);
  assertClean(r, 'deploy --wait');
  assert.match(r.stdout + r.stderr, /\\x1b\[2J/);
});

test('the live view on a terminal writes only its own cursor escapes', () => {
  let written = '';
  const tty = new Writable({ write: (c: Buffer, _e, cb) => ((written += c.toString()), cb()) }) as unknown as NodeJS.WriteStream;
  (tty as { columns: number }).columns = 400;
  const block = new LiveBlock(tty);
  block.render(renderLive(failed, null));
  block.render(renderLive(failed, null));
  // eslint-disable-next-line no-control-regex
  const ours = written.replace(/\x1b\[\d+F/g, '').replace(/\x1b\[0J/g, '');
  assert.equal(RAW.exec(ours), null, JSON.stringify(ours));
  assert.match(ours, /\\x1b\[2J/);
});

test('Output escapes human text and keeps lines; oneLine escapes newlines too', () => {
  let out = '';
  let err = '';
  const o = new Output(false, new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) }), new Writable({ write: (c: Buffer, _e, cb) => ((err += c.toString()), cb()) }));
  o.result({}, () => `line one\n${EVIL}`);
  o.warn(EVIL);
  o.error(new Error(EVIL));
  assert.equal(RAW.exec(out + err), null);
  assert.equal(out.split('\n').length, 4, 'the CLI\'s own newline and the one inside the server\'s text are kept by terminalText');
  assert.equal(oneLine(EVIL).includes('\n'), false);
  assert.equal(terminalText('a\tb\nc'), 'a\tb\nc');
  assert.equal(oneLine('a\tb\nc'), 'a\\tb\\nc');
});
