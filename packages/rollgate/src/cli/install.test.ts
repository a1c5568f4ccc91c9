/**
 * The install path the README gives: `npm install -g ./packages/rollgate` links the package's
 * `bin` entry onto PATH. This makes the same link by hand and runs the command from elsewhere,
 * and checks the README keeps its first two commands and sends nobody to `npx rollgate`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../demo/fixtures.js';
import { cleanEnv } from '../test/cli-run.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the package bin, linked onto PATH as npm install -g does, runs from any directory', () => {
  const pkgDir = join(REPO_ROOT, 'packages', 'rollgate');
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { bin: Record<string, string>; version: string };
  assert.equal(typeof pkg.bin.rollgate, 'string', 'package.json has a bin entry named rollgate');
  const root = mkdtempSync(join(tmpdir(), 'rollgate-install-'));
  dirs.push(root);
  mkdirSync(join(root, 'bin'));
  mkdirSync(join(root, 'elsewhere'));
  symlinkSync(join(pkgDir, pkg.bin.rollgate!), join(root, 'bin', 'rollgate'));
  const r = spawnSync('rollgate', ['--version'], { cwd: join(root, 'elsewhere'), env: { ...cleanEnv(), PATH: `${join(root, 'bin')}:${process.env.PATH}` }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('the README starts with its two commands, says how to install, and never runs `npx rollgate`', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const first = /```sh\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split('\n');
  assert.deepEqual(first, ['npm install && npm run demo', 'npm test']);
  assert.match(readme, /npm install -g \.\/packages\/rollgate/);
  const commands = readme.split('\n').filter((l) => /^\s*(npx )?rollgate\b|\| *npx rollgate/.test(l));
  assert.ok(commands.length > 10);
  assert.deepEqual(commands.filter((l) => /npx rollgate/.test(l)), []);
});

test('nothing else the user reads (the example app, the demo) tells them to run `npx rollgate`', () => {
  const read = ['examples/demo-app/rollgate.yaml', 'examples/demo-app/README.md', 'packages/rollgate/src/demo/main.ts'];
  const offenders = read.filter((f) => /npx rollgate/.test(readFileSync(join(REPO_ROOT, f), 'utf8')));
  assert.deepEqual(offenders, []);
});
