/** `rollgate init` through the real binary: detection, a valid commented spec, no overwrite, .gitignore. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSpec } from '../core/spec-load.js';
import { rollgate } from '../test/cli-run.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('init writes a commented, valid rollgate.yaml from what the project shows, refuses to overwrite, ignores .rollgate/', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rollgate-init-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@acme/Shop_Front', scripts: { start: 'node index.js --quiet' } }));
  writeFileSync(join(dir, 'index.js'), `const port = Number(process.env.APP_PORT ?? 3000);\napp.get('/readyz', ok);\n`);
  writeFileSync(join(dir, '.gitignore'), 'node_modules');

  const r = await rollgate(dir, ['init']);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(join(dir, 'rollgate.yaml'), 'utf8');
  assert.match(text, /^# /m, 'the file is commented');
  const spec = parseSpec(text);
  const app = spec.apps['shop-front'];
  assert.ok(app, `app named from package.json: ${Object.keys(spec.apps).join()}`);
  assert.equal(app.run, 'node index.js --quiet');
  assert.equal(app.portEnv, 'APP_PORT');
  assert.equal(app.healthCheck.path, '/readyz');
  assert.deepEqual(Object.keys(spec.environments).sort(), ['production', 'staging']);
  assert.equal(readFileSync(join(dir, '.gitignore'), 'utf8'), 'node_modules\n# rollgate: the local data directory (database, tokens, master.key)\n.rollgate/\n');

  writeFileSync(join(dir, 'rollgate.yaml'), '# mine\n');
  const again = await rollgate(dir, ['init']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /rollgate\.yaml already exists .*--force/);
  assert.equal(readFileSync(join(dir, 'rollgate.yaml'), 'utf8'), '# mine\n', 'left as it was');

  const forced = await rollgate(dir, ['init', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(readFileSync(join(dir, 'rollgate.yaml'), 'utf8'), /portEnv: APP_PORT/);
  assert.equal(readFileSync(join(dir, '.gitignore'), 'utf8').match(/\.rollgate\//g)?.length, 1, 'added once');
});

test('init in a bare directory writes defaults that say they are guesses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rollgate-init-bare-'));
  dirs.push(dir);
  const r = await rollgate(dir, ['init', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { gitignore: string };
  assert.equal(doc.gitignore, 'created');
  const text = readFileSync(join(dir, 'rollgate.yaml'), 'utf8');
  assert.match(text, /guessed: no start script/);
  const spec = parseSpec(text);
  assert.equal(Object.values(spec.apps)[0]!.portEnv, 'PORT');
});

test('init finds a plain PORT variable and a /healthz route in a subdirectory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rollgate-init-sub-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'server.js'), "const port = Number(process.env.PORT ?? 3000);\nif (url.pathname === '/healthz') ok();\n");
  const r = await rollgate(dir, ['init']);
  assert.equal(r.code, 0, r.stderr);
  const spec = parseSpec(readFileSync(join(dir, 'rollgate.yaml'), 'utf8'));
  const app = Object.values(spec.apps)[0]!;
  assert.equal(app.portEnv, 'PORT');
  assert.equal(app.healthCheck.path, '/healthz');
  assert.match(r.stdout, /\$PORT\s+\(used in app\/server\.js\)/);
});
