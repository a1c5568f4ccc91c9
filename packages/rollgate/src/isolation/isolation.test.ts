/**
 * The isolation attack of issue 9, against every isolation kind this machine offers, as root and
 * as an ordinary user (nobody): a hostile command tries to read every file of the data directory,
 * another app's release and the platform's /proc/<pid>/environ. `none` is run too, to show the
 * attack does succeed where nothing stops it (so the test can fail).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireAllBackends } from '../test/pg.js';
import type { AttackInput, AttackResult } from '../test/isolation-attack.js';
import { availableIsolation, type IsolationChoice } from './detect.js';
import { removeAccounts } from './os-accounts.js';

const HARNESS = fileURLToPath(new URL('../test/isolation-attack.js', import.meta.url));
const PREFIX = `rgt${process.pid % 1000}`;
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const roots: string[] = [];

after(async () => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  if (isRoot) await removeAccounts(PREFIX);
});

/** A data directory as the platform leaves it: keys, database, tokens, two apps' releases, a workspace. */
function layout(owner: number) {
  const root = mkdtempSync(join(tmpdir(), 'rg-iso-'));
  roots.push(root);
  const dataDir = join(root, 'data');
  const files: Record<string, string> = {
    'master.key': 'MASTER-KEY-BYTES',
    'api.token': 'rg_admin_token',
    'agent.token': 'agent-token',
    'rollgate.db': 'SQLite format 3',
    'logs/production/b/b-1.log': 'log line',
    'releases/a/1.0.0-abc/own.txt': 'mine',
    'releases/b/1.0.0-def/secret.txt': 'another app',
    'pipelines/runs/r1/own.txt': 'workspace file',
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dataDir, rel, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, rel), text, { mode: 0o600 });
  }
  chmodSync(dataDir, 0o700);
  if (owner !== 0) {
    const walk = (p: string) => {
      chownSync(p, owner, owner);
      if (statSync(p).isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    };
    walk(root);
  }
  const forbidden = Object.keys(files).filter((f) => !f.includes('/own.txt')).map((f) => join(dataDir, f));
  return { dataDir, forbidden, release: join(dataDir, 'releases/a/1.0.0-abc'), workspace: join(dataDir, 'pipelines/runs/r1') };
}

function attack(kind: IsolationChoice, asUid: number, writable: boolean): AttackResult & { secret: string; forbidden: string[]; skeleton: string } {
  const l = layout(asUid);
  const secret = `platform-secret-${Math.random().toString(36).slice(2)}`;
  const input: AttackInput = {
    kind,
    accountPrefix: PREFIX,
    dataDir: l.dataDir,
    forbidden: l.forbidden,
    workDir: writable ? l.workspace : l.release,
    writable,
    principal: writable ? { app: 'a', scope: 'pipeline' } : { app: 'a', scope: 'production' },
    platformSecret: secret,
  };
  const drop = asUid === 0 ? [] : ['/usr/bin/setpriv', `--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups', '--'];
  const [file, ...args] = [...drop, process.execPath, HARNESS, JSON.stringify(input)] as unknown as [string, ...string[]];
  const r = spawnSync(file, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ROLLGATE_TEST_PLATFORM: secret }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `attack harness failed: ${r.stderr}`);
  // The sandbox recreates the path down to the working directory: that one (empty) name is all it lists.
  const skeleton = `LIST ${input.workDir.slice(l.dataDir.length + 1).split('/')[0]}`;
  return { ...(JSON.parse(r.stdout) as AttackResult), secret, forbidden: l.forbidden, skeleton };
}

function assertContained(r: ReturnType<typeof attack>, writable: boolean, asUid: number) {
  const leaks = r.lines.filter((l) => /^(READ|LIST|ENVIRON) /.test(l) && l !== r.skeleton);
  assert.deepEqual(leaks, [], `the isolated command saw what it must not: ${leaks.join('; ')}`);
  assert.ok(r.lines.includes('OWN-OK'), `the command could not read its own ${writable ? 'workspace' : 'release'}: ${r.lines.join('; ')}`);
  assert.equal(r.lines.includes('WRITE-OK'), writable, writable ? 'a workspace must be writable' : 'a release must be read-only for its instances');
  const id = Number(r.lines.find((l) => l.startsWith('ID '))?.slice(3));
  if (r.kind === 'user+namespace' || r.kind === 'user') assert.ok(id !== 0 && id !== asUid, `runs as its own account, not uid ${id}`);
}

const { available, why } = availableIsolation();

describe(`isolation as ${isRoot ? 'root' : 'the current user'}`, () => {
  test('without isolation the attack reads the data directory and the platform environment (the test can fail)', () => {
    const r = attack('none', process.getuid?.() ?? 0, false);
    assert.ok(r.lines.some((l) => l.startsWith('READ ') && l.endsWith('master.key')), r.lines.join('; '));
    assert.ok(r.lines.some((l) => l.startsWith('ENVIRON ')), 'the platform environment is readable');
  });
  for (const kind of ['user+namespace', 'namespace', 'user'] as const) {
    for (const writable of [false, true]) {
      test(`${kind}: ${writable ? 'a stage command in its workspace' : 'an instance in its release'} reads nothing of the platform`, (t) => {
        if (!available.includes(kind)) {
          if (requireAllBackends() && (kind !== 'user+namespace' || isRoot)) assert.fail(`isolation ${kind} is not available: ${why[kind]} (ROLLGATE_REQUIRE_ALL=1)`);
          t.skip(`isolation ${kind} is not available here: ${why[kind]}`);
          return;
        }
        assertContained(attack(kind, process.getuid?.() ?? 0, writable), writable, process.getuid?.() ?? 0);
      });
    }
  }
});

describe('isolation as an ordinary user (nobody)', { skip: isRoot ? false : 'needs root to become nobody' }, () => {
  test('without isolation, nobody reads its own data directory (the test can fail)', () => {
    const r = attack('none', NOBODY, false);
    assert.ok(r.lines.some((l) => l.startsWith('READ ') && l.endsWith('master.key')), r.lines.join('; '));
  });
  for (const writable of [false, true]) {
    test(`namespace (chosen automatically): ${writable ? 'a stage command' : 'an instance'} reads nothing of the platform`, (t) => {
      const probe = spawnSync('/usr/bin/setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', '/usr/bin/bwrap', '--ro-bind', '/', '/', '--unshare-pid', '--proc', '/proc', '--dev', '/dev', '/bin/true']);
      if (probe.status !== 0) {
        if (requireAllBackends()) assert.fail('bubblewrap does not work for an ordinary user here (apt-get install bubblewrap) (ROLLGATE_REQUIRE_ALL=1)');
        t.skip('bubblewrap does not work for an ordinary user here (apt-get install bubblewrap)');
        return;
      }
      const r = attack('auto', NOBODY, writable);
      assert.equal(r.kind, 'namespace');
      assertContained(r, writable, NOBODY);
    });
  }
});
