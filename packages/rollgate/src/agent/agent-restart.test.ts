import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ServiceKey } from '../core/dataplane.js';
import { AgentClient } from './client.js';
import { runAgent } from './main.js';
import { demoVersion, http, processAlive, tempDir, waitFor } from './testkit.js';
import { freePort } from '../demo/fixtures.js';

const key: ServiceKey = { env: 'production', app: 'demo' };


test('an agent killed with SIGKILL: the next one reaps its orphans and brings its services back', { timeout: 60_000 }, async () => {
  const tmp = tempDir();
  const mainUrl = new URL('./main.js', import.meta.url).href;
  const script = `const { runAgent } = await import(${JSON.stringify(mainUrl)});
const a = await runAgent({ dataDir: process.argv[1], log: () => {} });
process.stdout.write(JSON.stringify({ url: a.url, token: a.token }) + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, tmp.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const orphans: number[] = [];
  let next: Awaited<ReturnType<typeof runAgent>> | null = null;
  try {
    const first = await new Promise<{ url: string; token: string }>((resolve, reject) => {
      let buf = '';
      child.stdout!.setEncoding('utf8').on('data', (t: string) => {
        buf += t;
        if (buf.includes('\n')) resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))) as { url: string; token: string });
      });
      child.once('exit', (code) => reject(new Error(`agent process exited early (${code})`)));
    });
    const listenPort = await freePort();
    const c1 = new AgentClient(first);
    await c1.putService(key, { listenPort, versions: [demoVersion('v1', { replicas: 2 })], routes: { balance: 'weights', weights: { v1: 100 }, headerRoutes: [], sticky: false } });
    const svc = await waitFor('2 ready', async () => {
      const s = await c1.getService(key);
      return s.versions[0]?.ready === 2 ? s : null;
    });
    for (const i of svc.versions[0]!.instances) orphans.push(i.pid!);

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(orphans.every(processAlive), 'instances outlive a SIGKILLed agent (their own process groups)');

    next = await runAgent({ dataDir: tmp.dir, log: () => undefined, shutdownTimeoutMs: 5000 });
    assert.equal(next.token, first.token);
    await waitFor('orphans reaped', () => orphans.every((pid) => !processAlive(pid)));
    const c2 = new AgentClient({ url: next.url, token: next.token });
    const back = await waitFor('restored', async () => {
      const s = await c2.findService(key);
      return s && s.versions[0]?.ready === 2 ? s : null;
    });
    assert.ok(back.versions[0]!.instances.every((i) => !orphans.includes(i.pid!)));
    const r = await waitFor('serving', async () => {
      const res = await http(listenPort, '/').catch(() => null);
      return res?.status === 200 ? res : null;
    });
    assert.equal((JSON.parse(r.body) as { version: string }).version, 'v1');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await next?.stop();
    for (const pid of orphans) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    tmp.cleanup();
  }
});
