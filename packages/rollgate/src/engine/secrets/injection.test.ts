/**
 * Secrets end to end through the pieces the server wires together: the Secrets engine over a
 * real SQLite store, the declaration built from the applied spec, the LocalAgentRuntime, and a
 * real agent running a real app. Then the agent restarts (twice) and gets its secrets again
 * from the runtime: once through the event stream's reconnection, once through an observation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceKey } from '../../core/dataplane.js';
import type { ReleaseRecord } from '../../core/domain.js';
import { AgentClient } from '../../agent/client.js';
import { runAgent, type RunningAgent } from '../../agent/main.js';
import { http, processAlive, tempDir, waitFor } from '../../agent/testkit.js';
import { freePort } from '../../demo/fixtures.js';
import { LocalAgentRuntime } from '../../runtime/local-agent.js';
import { openStore, SQLITE_FILE, type Store } from '../../store/index.js';
import { loadServiceConfig } from '../config-store.js';
import { EventBus } from '../events.js';
import { jsonLogger } from '../logger.js';
import { declaration } from '../service-config.js';
import { Secrets } from './secrets.js';

const APP = `import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
const names = (process.env.SHOW ?? '').split(',');
const sha = (v) => (v === undefined ? null : createHash('sha256').update(v).digest('hex'));
for (const n of names) console.log('boot: ' + n + '=' + process.env[n]);
createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(Object.fromEntries(names.map((n) => [n, sha(process.env[n])]))));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const sha = (v: string) => createHash('sha256').update(v).digest('hex');

test('secrets reach app instances, stay masked, and come back after agent restarts', { timeout: 90_000 }, async () => {
  const tmp = tempDir('rollgate-inject-');
  const key: ServiceKey = { app: 'shop', env: 'production' };
  const pids = new Set<number>();
  let agent: RunningAgent | null = null;
  let store: Store | null = null;
  let runtime: LocalAgentRuntime | null = null;
  const serverLog: string[] = [];
  const seen: string[] = [];
  try {
    writeFileSync(join(tmp.dir, 'app.mjs'), APP);
    const agentDir = join(tmp.dir, 'agent');
    const serverDir = join(tmp.dir, 'server');
    const [agentPort, listenPort] = [await freePort(), await freePort()];
    store = await openStore({ dataDir: serverDir });
    await store.upsertEnvironment('production', { listen: listenPort });
    await store.upsertApp('shop', {
      run: `${JSON.stringify(process.execPath)} app.mjs`,
      replicas: 1,
      env: { SHOW: 'DB_PASSWORD,API_TOKEN' },
      healthCheck: { path: '/healthz', interval: '100ms', timeout: '500ms', startTimeout: '5s' },
      drainTimeout: '1s',
    });
    const events = new EventBus(store);
    events.subscribe((e) => seen.push(JSON.stringify(e)));
    const secrets = new Secrets({ store, masterKey: randomBytes(32), events });
    const values = { DB_PASSWORD: `pg-${randomBytes(12).toString('hex')}`, API_TOKEN: `tok_${randomBytes(16).toString('base64url')}` };
    await secrets.set('shop', 'production', 'DB_PASSWORD', values.DB_PASSWORD, 'user:ana');
    await secrets.set('shop', 'production', 'API_TOKEN', values.API_TOKEN, 'user:ana');

    const startAgent = async () => {
      agent = await runAgent({ dataDir: agentDir, port: agentPort, log: (e) => serverLog.push(JSON.stringify(e)), shutdownTimeoutMs: 5000 });
      return agent;
    };
    const a = await startAgent();
    const client = new AgentClient({ url: a.url, token: a.token, timeoutMs: 10_000 });
    runtime = new LocalAgentRuntime(client, { secrets, log: jsonLogger('server', { write: (s: string) => (serverLog.push(s), true) } as NodeJS.WritableStream) });

    // What the executor does: build the declaration from the applied spec and a release, and apply it.
    const cfg = await loadServiceConfig(store, 'shop', 'production');
    const release = { id: 'rel-1', app: 'shop', version: 'v1', contentHash: 'x', artifactDir: tmp.dir, commitSha: null, commitTime: null, createdAt: new Date().toISOString(), createdBy: 'user:ana', prunedAt: null } satisfies ReleaseRecord;
    const decl = declaration(cfg, { v1: 1 }, new Map([['v1', release]]));
    assert.ok(!JSON.stringify(decl).includes(values.DB_PASSWORD), 'the declaration itself carries no secret');
    seen.push(JSON.stringify(await runtime.apply(decl)));

    const appSees = async (notPid?: number) => {
      const inst = await waitFor('a ready instance', async () => {
        const s = await runtime!.observe(key).catch(() => null);
        seen.push(JSON.stringify(s));
        return s?.versions[0]?.instances.find((i) => i.state === 'ready' && i.pid !== notPid) ?? null;
      });
      pids.add(inst.pid!);
      return { pid: inst.pid!, sees: JSON.parse((await http(inst.port, '/')).body) as Record<string, string | null> };
    };
    let now = await appSees();
    assert.deepEqual(now.sees, { DB_PASSWORD: sha(values.DB_PASSWORD), API_TOKEN: sha(values.API_TOKEN) });
    const logs = await waitFor('boot lines', async () => {
      const l = await runtime!.logs(key, { tail: 50 });
      return l.filter((x) => x.text.startsWith('boot: ')).length >= 2 ? l : null;
    });
    assert.deepEqual(logs.filter((l) => l.text.startsWith('boot: ')).map((l) => l.text).sort(), ['boot: API_TOKEN=[secret:API_TOKEN]', 'boot: DB_PASSWORD=[secret:DB_PASSWORD]']);
    seen.push(JSON.stringify(logs));

    // Restart 1, with the runtime watching: the event stream reconnects and the secrets follow.
    const unwatch = runtime.watch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    await agent!.stop();
    await startAgent();
    const resupplied = await waitFor('secrets sent again after the reconnection', async () => {
      const s = await client.findService(key).catch(() => null);
      return s && s.awaitingSecrets?.length === 0 && s.versions[0]?.instances.some((i) => i.state === 'ready') ? s : null;
    });
    seen.push(JSON.stringify(resupplied));
    unwatch();
    now = await appSees();
    assert.deepEqual(now.sees, { DB_PASSWORD: sha(values.DB_PASSWORD), API_TOKEN: sha(values.API_TOKEN) });

    // Restart 2, nobody watching: the next observation (an executor tick, `rollgate status`) sends them.
    await agent!.stop();
    await startAgent();
    // (A pooled connection to the old agent may fail once: retried, as the executor's ticks are.)
    const waiting = await waitFor('the restarted agent', () => client.getService(key).catch(() => null));
    assert.deepEqual(waiting.awaitingSecrets, ['API_TOKEN', 'DB_PASSWORD']);
    now = await appSees();
    assert.deepEqual(now.sees, { DB_PASSWORD: sha(values.DB_PASSWORD), API_TOKEN: sha(values.API_TOKEN) });
    assert.ok(serverLog.some((l) => l.includes('sent secrets to an agent that was waiting for them')));

    // A removed secret is gone from the next instances once the service's secrets are refreshed.
    await secrets.rm('shop', 'production', 'API_TOKEN', 'user:ana');
    seen.push(JSON.stringify(await runtime.refreshSecrets(key)));
    now = await appSees(now.pid);
    assert.deepEqual(now.sees, { DB_PASSWORD: sha(values.DB_PASSWORD), API_TOKEN: null });
    await agent!.stop();
    agent = null;
    await store.close();
    store = null;

    // No value anywhere: the server's database and log, the agent's files, events, answers.
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(agentDir);
    walk(serverDir);
    assert.ok(files.some((f) => f.endsWith(SQLITE_FILE)) && files.some((f) => f.endsWith('desired.json')));
    for (const [name, v] of Object.entries(values)) {
      for (const f of files) assert.ok(!readFileSync(f).includes(Buffer.from(v)), `${f} holds ${name}`);
      for (const s of [...seen, ...serverLog]) assert.ok(!s.includes(v), `${name} in: ${s.slice(0, 300)}`);
    }
    assert.ok(seen.some((s) => s.includes('secret.removed')), 'the events were scanned');
  } finally {
    await runtime?.close();
    await (agent as RunningAgent | null)?.stop();
    await (store as Store | null)?.close();
    for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    tmp.cleanup();
  }
});
