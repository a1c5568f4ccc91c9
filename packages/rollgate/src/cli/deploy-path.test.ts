/**
 * `rollgate deploy --path` as a user runs it (the real binary): a path that is, sits in,
 * contains or links to the platform's data directory is refused before anything is sent, by
 * real path, not by name (issue 9, item 8). No server runs: the check comes first, and the
 * server URL points nowhere, so an upload attempt would show as "unreachable" instead.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rollgate, type Run } from '../test/cli-run.js';

let root: string;
let project: string;

const SPEC = `apps:
  web:
    run: node server.js
environments:
  staging:
    listen: 18181
`;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'rollgate-deploy-path-'));
  // The data directory lives beside the project; the project's .rollgate is a link to it, so
  // only its real path tells that `..` contains it.
  const data = join(root, 'platform-data');
  mkdirSync(join(data, 'releases'), { recursive: true });
  for (const f of ['master.key', 'api.token', 'agent.token']) writeFileSync(join(data, f), 'secret\n');
  project = join(root, 'project');
  mkdirSync(join(project, 'app'), { recursive: true });
  symlinkSync('../platform-data', join(project, '.rollgate'));
  writeFileSync(join(project, 'rollgate.yaml'), SPEC);
  writeFileSync(join(project, 'app', 'server.js'), 'console.log(1)\n');
  // A build output that links into the data directory.
  mkdirSync(join(project, 'linked'));
  writeFileSync(join(project, 'linked', 'server.js'), 'x');
  symlinkSync('../.rollgate/master.key', join(project, 'linked', 'key'));
});

after(() => rmSync(root, { recursive: true, force: true }));

function deploy(path: string, cwd = project): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: root, XDG_CONFIG_HOME: join(root, 'config') };
  for (const k of Object.keys(env)) if (k.startsWith('ROLLGATE_')) delete env[k];
  env.ROLLGATE_SERVER = 'http://127.0.0.1:9';
  return rollgate(cwd, ['deploy', 'web', '--env', 'staging', '--path', path], 120_000, env);
}

test('the data directory, a directory inside it, a parent of it and a link into it are refused by real path', async () => {
  const cases: Array<[string, RegExp]> = [
    ['.rollgate', /--path \.rollgate is the platform's data directory \(.*platform-data\), which holds the platform's keys/],
    ['.rollgate/releases', /--path \.rollgate\/releases is inside the platform's data directory/],
    [join(root, 'platform-data'), /is the platform's data directory/],
    ['..', /\.\.\/platform-data is the platform's data directory .*would ship the platform's keys/],
    ['linked', /symlink linked\/key -> \.\.\/\.rollgate\/master\.key points outside linked/],
  ];
  for (const [path, message] of cases) {
    const r = await deploy(path);
    assert.equal(r.code, 2, `--path ${path}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message, `--path ${path}`);
  }
  // The app's own directory passes the check and goes on to the (absent) server.
  const ok = await deploy('app');
  assert.equal(ok.code, 3, ok.stderr);
  assert.doesNotMatch(ok.stderr, /data directory/);
});

test('`--path .` in a project whose data directory is its own .rollgate/ passes: the data directory is left out', async () => {
  const own = join(root, 'own');
  mkdirSync(join(own, '.rollgate', 'releases'), { recursive: true });
  for (const f of ['master.key', 'api.token', 'agent.token', 'rollgate.db']) writeFileSync(join(own, '.rollgate', f), 'secret\n');
  writeFileSync(join(own, 'rollgate.yaml'), SPEC);
  writeFileSync(join(own, 'server.js'), 'console.log(1)\n');
  const r = await deploy('.', own);
  // Past the check, on to the (absent) server.
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /uploading|server|connect/i);
  assert.doesNotMatch(r.stderr, /data directory/);
});
