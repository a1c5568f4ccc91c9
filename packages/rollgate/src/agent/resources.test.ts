/**
 * Per-instance CPU and memory: the /proc parsing and tree sums (pure), then a real agent running
 * an instance under the isolation this machine has, whose child burns a core and holds 96 MiB:
 * both count, since the whole process tree is sampled (the pid alone would show neither).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { InstanceObserved, ServiceKey } from '../core/dataplane.js';
import { freePort } from '../demo/fixtures.js';
import { AgentClient } from './client.js';
import { runAgent, type RunningAgent } from './main.js';
import { parseProcStat, readProcStat, type ProcStat } from './proc-stat.js';
import { ResourceSampler, treeTotals } from './resources.js';
import { demoVersion, tempDir, waitFor } from './testkit.js';

const MiB = 1024 * 1024;

test('parseProcStat reads past a command name holding spaces and parentheses', () => {
  const line = '4242 (my (odd) app) S 17 4242 4242 0 -1 4194560 500 0 0 0 120 30 7 3 20 0 11 0 900 1000000 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0';
  const s = parseProcStat(4242, line);
  assert.deepEqual(s, { pid: 4242, ppid: 17, pgrp: 4242, cpuTicks: 160, rssPages: 2560, dead: false });
  assert.equal(parseProcStat(1, '1 (trunc'), null);
  assert.equal(parseProcStat(1, '1 (x) S 0 1'), null, 'a short line is not a sample');
  assert.equal(parseProcStat(9, line.replace(') S', ') Z').replace('4242 (', '9 ('))?.dead, true);
});

test('treeTotals: descendants by parent and the process group count; other processes do not', () => {
  const p = (pid: number, ppid: number, pgrp: number, cpuTicks: number, rssPages: number, dead = false): ProcStat => ({ pid, ppid, pgrp, cpuTicks, rssPages, dead });
  const stats = [
    p(1, 0, 1, 1000, 100),
    p(10, 1, 10, 5, 10), // instance root (e.g. bwrap)
    p(11, 10, 10, 7, 20), // sandboxed init
    p(12, 11, 12, 100, 300), // the app, in a new session: found by parent
    p(13, 1, 10, 50, 40), // orphan reparented to init, still in the instance's group
    p(14, 12, 12, 9, 0, true), // a zombie child: its time counts, it holds no memory
    p(20, 1, 20, 999, 999), // another instance
  ];
  const t = treeTotals(stats, [10, 20, 30]);
  assert.deepEqual(t.get(10), { ticks: 5 + 7 + 100 + 50 + 9, rssPages: 10 + 20 + 300 + 40, processes: 5 });
  assert.deepEqual(t.get(20), { ticks: 999, rssPages: 999, processes: 1 });
  assert.equal(t.has(30), false, 'an exited root gives no sample');
});

test('the CPU counter only goes up, across a child lost and a restart', async () => {
  let ticks = 100;
  let pid = 50;
  const sampler = new ResourceSampler({
    instances: () => [{ id: 'i', pid }],
    units: { ticksPerSecond: 100, pageSize: 4096 },
    listPids: async () => [pid],
    readStat: async (p) => ({ pid: p, ppid: 1, pgrp: p, cpuTicks: ticks, rssPages: 10, dead: false }),
  });
  await sampler.sample();
  assert.equal(sampler.get('i')?.cpuSeconds, 1);
  assert.equal(sampler.get('i')?.rssBytes, 40960);
  ticks = 60; // a child exited unreaped: the tree's sum dropped
  await sampler.sample();
  assert.equal(sampler.get('i')?.cpuSeconds, 1);
  ticks = 80;
  await sampler.sample();
  assert.equal(sampler.get('i')?.cpuSeconds, 1.2);
  pid = 51; // restarted: the new process's own time adds on
  ticks = 30;
  await sampler.sample();
  assert.equal(sampler.get('i')?.cpuSeconds, 1.5);
});

test('a real process tree: a child that exits mid-sampling is simply not counted', async () => {
  const parent = spawn('/bin/sh', ['-c', 'sleep 0.2 & sleep 5'], { detached: true, stdio: 'ignore' });
  try {
    const sampler = new ResourceSampler({ instances: () => [{ id: 'p', pid: parent.pid! }] });
    for (let i = 0; i < 6; i++) {
      await sampler.sample();
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = sampler.get('p');
    assert.ok(r, 'sampled');
    assert.ok(r.rssBytes > 0);
    assert.ok((r.processes ?? 0) >= 2, `processes ${r.processes}`);
    assert.ok(readProcStat(parent.pid!), 'the parent still runs');
  } finally {
    process.kill(-parent.pid!, 'SIGKILL');
  }
});

describe('an instance under the isolation this agent has', { timeout: 60_000 }, () => {
  const tmp = tempDir();
  const key: ServiceKey = { env: 'staging', app: 'hungry' };
  let agent: RunningAgent;
  let client: AgentClient;

  before(async () => {
    agent = await runAgent({ dataDir: tmp.dir, log: () => undefined, shutdownTimeoutMs: 5000 });
    client = new AgentClient({ url: agent.url, token: agent.token, timeoutMs: 10_000 });
    const node = JSON.stringify(process.execPath);
    // A child that holds 96 MiB and spins, then the app itself (exec: it keeps the instance's pid).
    const command = `${node} -e 'globalThis.b = Buffer.alloc(96 * 1048576, 1); for (;;);' & exec ${node} server.js`;
    await client.putService(key, { listenPort: await freePort(), versions: [demoVersion('v1', { command, isolation: 'preferred' })] });
  });
  after(async () => {
    await agent?.stop();
    tmp.cleanup();
  });

  test('status reports CPU and resident memory of the whole tree, and /metrics exports them', async (t) => {
    const inst = await waitFor('a sample with CPU use', async () => {
      const s = await client.getService(key);
      const i: InstanceObserved | undefined = s.versions[0]?.instances[0];
      return i?.state === 'ready' && (i.resources?.cpuPercent ?? 0) > 0 ? { i, isolation: s.isolation } : null;
    }, 20_000);
    const r = inst.i.resources!;
    assert.ok(r.rssBytes > 96 * MiB, `rss ${r.rssBytes} includes the child's 96 MiB`);
    // The spinning child keeps a core busy (shared with the test itself on a small machine); the app alone is near 0.
    const busy = await waitFor('a busy core', async () => {
      const i = (await client.getService(key)).versions[0]?.instances[0];
      return (i?.resources?.cpuPercent ?? 0) > 30 ? i!.resources! : null;
    }, 20_000);
    assert.ok(busy.cpuSeconds >= r.cpuSeconds, 'the counter goes up');
    assert.ok((busy.processes ?? 0) >= 2, `processes ${busy.processes}`);
    t.diagnostic(`isolation ${inst.isolation}: ${busy.processes} processes, ${(busy.rssBytes / MiB).toFixed(1)} MiB, ${busy.cpuPercent}% CPU`);
    const text = await (await fetch(`${agent.url}/metrics`)).text();
    const labels = `app="hungry",env="staging",version="v1",instance="${inst.i.id}"`;
    const cpu = Number(new RegExp(`^rollgate_instance_cpu_seconds_total\\{${labels.replace(/[.+]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(text)?.[1]);
    const rss = Number(new RegExp(`^rollgate_instance_resident_memory_bytes\\{${labels.replace(/[.+]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.ok(cpu > 0, text);
    assert.ok(rss > 96 * MiB, text);
    assert.match(text, /# TYPE rollgate_instance_cpu_seconds_total counter/);
  });
});
