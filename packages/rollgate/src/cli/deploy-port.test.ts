/**
 * Issue 10, defect 6 at deploy time: an environment's port taken after `up` started. The deploy
 * fails with the port named, and the CLI says it once in its end line: not the same refusal
 * chained twice ("…; then …" of the same message), and no repeated outcome line.
 * Real `rollgate up`, real CLI, a real listener holding the port.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import { startPlatform, type Platform } from '../demo/platform.js';
import { rollgate } from '../test/cli-run.js';
import { until } from '../test/split-platform.js';

let work: string;
let p: Platform;
let holder: Server;
let port: number;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'rollgate-deploy-port-'));
  port = await freePort();
  writeFileSync(
    join(work, 'rollgate.yaml'),
    `apps:\n  web:\n    run: node server.js\n    replicas: 1\n    drainTimeout: 1s\n    healthCheck: { path: /healthz, interval: 100ms }\nenvironments:\n  staging:\n    listen: ${port}\n    analysis: false\n`,
  );
  p = await startPlatform({ dataDir: join(work, '.rollgate'), port: await freePort(), cwd: work, quiet: true });
  await until('up to apply rollgate.yaml', async () => Object.hasOwn((await p.client.appliedSpec()).apps, 'web'), 30_000);
  // Taken after up checked its ports: only the deploy can find out.
  holder = createServer();
  await new Promise<void>((ok) => holder.listen(port, '127.0.0.1', ok));
});

after(async () => {
  holder?.close();
  await p?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('a port taken after up: the deploy fails naming it, and says so once', async () => {
  mkdirSync(join(work, 'src'));
  const dir = await makeDemoRelease(join(work, 'src'), { version: 'v1' });
  const r = await rollgate(work, ['deploy', 'web', '--env', 'staging', '--path', dir, '--version', 'v1', '--wait'], 120_000, {
    PATH: process.env.PATH,
    HOME: join(work, 'home'),
    ROLLGATE_SERVER: p.url,
    ROLLGATE_TOKEN: p.token,
  });
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  const said = `port ${port} on 127.0.0.1 is already in use`;
  const all = r.stdout + r.stderr;
  assert.ok(r.stderr.includes(said), r.stderr);
  assert.ok(!r.stderr.includes('; then the data plane refused'), `the same refusal is not chained: ${r.stderr}`);
  assert.ok(!/^\S+\s+failed\s+ended failed/m.test(r.stdout), `no outcome line before the end line: ${r.stdout}`);
  assert.ok(all.split(said).length - 1 <= 2, `said at most twice (what happened, and the end): ${all}`);
});
