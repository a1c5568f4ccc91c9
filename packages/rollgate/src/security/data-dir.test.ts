/**
 * The data directory is private: unit checks of secureDataDir, then the real `rollgate up`
 * (server + agent processes) on a data directory an older version left readable (0644 files,
 * 0755 directories), with a release deployed: afterwards no entry is open to group or others.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { RollgateError } from '../core/errors.js';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import { startPlatform, waitForDeployment } from '../demo/platform.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { until } from '../test/split-platform.js';
import { secureDataDir } from './data-dir.js';
import { availableIsolation } from '../isolation/detect.js';

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'rollgate-datadir-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Every entry under `dir` whose mode gives group or others any access (links excepted). */
// Isolation by OS accounts alone (root without bubblewrap) cannot hide the data directory by a
// mount: the directories on the way to a release get o+x (followed, never listed).
const accountsOnly = availableIsolation().available[0] === 'user';

function openEntries(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    // A release handed to an app's isolation group (not the platform's own group) may be group-readable, never writable.
    const groupMay = st.gid !== process.getegid?.() && p.includes(`${sep}releases${sep}`) ? 0o050 : 0;
    const onTheWay = accountsOnly && st.isDirectory() && (p === dir || p.startsWith(join(dir, 'releases'))) ? 0o001 : 0;
    if ((st.mode & 0o077 & ~groupMay & ~onTheWay) !== 0 || (st.mode & 0o7000) !== 0) out.push(`${p} ${(st.mode & 0o7777).toString(8)}`);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}

function countEntries(dir: string): { files: number; dirs: number } {
  let files = 0;
  let dirs = 0;
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) {
      dirs++;
      for (const n of readdirSync(p)) walk(join(p, n));
    } else if (st.isFile()) files++;
  };
  walk(dir);
  return { files, dirs };
}

test('an older, readable data directory is made private; owner bits stay (programs stay executable); a group-writable one is reported', () => {
  const dir = join(work, 'old');
  mkdirSync(join(dir, 'releases', 'web', 'r1', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'rollgate.db'), 'x');
  writeFileSync(join(dir, 'api.token'), 'x');
  writeFileSync(join(dir, 'releases', 'web', 'r1', 'bin', 'start.sh'), '#!/bin/sh\n');
  chmodSync(join(dir, 'rollgate.db'), 0o644);
  chmodSync(join(dir, 'api.token'), 0o666);
  chmodSync(join(dir, 'releases', 'web', 'r1', 'bin', 'start.sh'), 0o4755);
  chmodSync(join(dir, 'releases'), 0o755);
  chmodSync(dir, 0o775);
  const warnings: string[] = [];
  const r = secureDataDir(dir, { warn: (m) => warnings.push(m) });
  assert.deepEqual(openEntries(dir), []);
  assert.equal(lstatSync(dir).mode & 0o7777, 0o700);
  assert.equal(lstatSync(join(dir, 'rollgate.db')).mode & 0o777, 0o600);
  assert.equal(lstatSync(join(dir, 'releases', 'web', 'r1', 'bin', 'start.sh')).mode & 0o7777, 0o700, 'executable for its owner, setuid dropped');
  assert.ok(r.tightened.length >= 5, r.tightened.join('\n'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /writable by its group \(mode 0775\)/);
  // New files are private too: the umask is set.
  writeFileSync(join(dir, 'new'), 'x');
  mkdirSync(join(dir, 'newdir'));
  assert.deepEqual(openEntries(dir), []);
});

test('an exposed master.key is not quietly fixed (the server refuses it); a data directory of another user is refused', () => {
  const dir = join(work, 'key');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'master.key'), 'x', { mode: 0o600 });
  chmodSync(join(dir, 'master.key'), 0o644);
  const r = secureDataDir(dir);
  assert.equal(lstatSync(join(dir, 'master.key')).mode & 0o777, 0o644);
  assert.match(r.warnings.join('\n'), /master\.key can be read by other users \(mode 0644\)/);

  if (process.geteuid?.() !== 0) return; // chown needs root
  const theirs = join(work, 'theirs');
  mkdirSync(theirs);
  chownSync(theirs, 65534, 65534);
  assert.throws(() => secureDataDir(theirs), (e: unknown) => e instanceof RollgateError && e.code === 'invalid_input' && /belongs to user id 65534/.test(e.message));
  assert.equal(lstatSync(theirs).uid, 65534, 'nothing changed');
});

test('rollgate up on an upgraded data directory: after a deployment, every file is 0600-or-stricter and every directory 0700', async () => {
  const dataDir = join(work, 'up', '.rollgate');
  const cwd = join(work, 'up');
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  chmodSync(dataDir, 0o755);
  // What an older version left behind.
  mkdirSync(join(dataDir, 'logs'), { mode: 0o755 });
  writeFileSync(join(dataDir, 'logs', 'old.log'), 'old\n', { mode: 0o644 });
  writeFileSync(join(dataDir, 'agent.log'), 'old\n', { mode: 0o644 });
  const port = await freePort();
  const stagingPort = await freePort();
  writeFileSync(
    join(cwd, 'rollgate.yaml'),
    `apps:\n  web:\n    run: node server.js\n    replicas: 1\n    drainTimeout: 1s\n    healthCheck: { path: /healthz, interval: 100ms }\nenvironments:\n  staging:\n    listen: ${stagingPort}\n    analysis: false\n`,
  );
  const p = await startPlatform({ dataDir, port, cwd, quiet: true });
  try {
    // `up` applies rollgate.yaml just after its server answers.
    await until('up to apply rollgate.yaml', async () => Object.hasOwn((await p.client.appliedSpec()).apps, 'web'));
    const rel = await makeDemoRelease(join(work, 'up-rel'), { version: 'v1' });
    const release = await p.client.uploadRelease('web', packDir(await checkReleaseDir(rel)), { version: 'v1' });
    const dep = await p.client.deploy({ app: 'web', env: 'staging', releaseId: release.id });
    assert.equal((await waitForDeployment(p.client, dep.id)).status, 'succeeded');
    const seen = countEntries(dataDir);
    assert.ok(seen.files >= 8 && seen.dirs >= 4, `the walk saw the platform's files: ${JSON.stringify(seen)}`);
    for (const f of ['rollgate.db', 'rollgate.db-wal', 'master.key', 'api.token', 'agent.token']) assert.equal(lstatSync(join(dataDir, f)).mode & 0o777, 0o600, f);
    assert.deepEqual(openEntries(dataDir), []);
  } finally {
    await p.stop();
  }
  assert.deepEqual(openEntries(dataDir), []);
});
