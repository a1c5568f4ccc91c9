/** platformHealth: what up.json and agent.json say, with real pids (this process alive, an exited child dead). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { platformHealth } from './platform-health.js';
import type { UpFile } from './platform-file.js';

/** A pid that no longer runs: a child that has exited and been reaped. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

function withDir(f: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'rollgate-health-'));
  try {
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const up = (o: Partial<UpFile>): UpFile => ({
  pid: process.pid,
  api: 'http://127.0.0.1:7070',
  agentPid: process.pid,
  agentStarted: true,
  keepAgent: false,
  log: null,
  startedAt: '2026-01-01T00:00:00.000Z',
  agent: { url: 'http://127.0.0.1:7171', state: 'running', lastSeenAt: '2026-01-01T00:05:00.000Z', restarts: 0, lastExit: null },
  ...o,
});
const write = (dir: string, name: string, doc: unknown) => writeFileSync(join(dir, name), JSON.stringify(doc));

test('a running agent is running; a restarted one says how often and why', () =>
  withDir((dir) => {
    write(dir, 'up.json', up({}));
    assert.deepEqual(platformHealth(dir), { problem: false, line: `agent: running (pid ${process.pid}, http://127.0.0.1:7171)` });
    write(dir, 'up.json', up({ agent: { url: 'http://127.0.0.1:7171', state: 'running', lastSeenAt: '2026-01-01T00:05:00.000Z', restarts: 2, lastExit: { pid: 42, how: 'killed by SIGKILL', at: '2026-01-01T00:04:00.000Z' } } }));
    assert.match(platformHealth(dir)!.line, /restarted 2 time\(s\) by rollgate up, last after pid 42 died \(killed by SIGKILL\) at 2026-01-01 00:04:00Z/);
  }));

test('a dead agent is DEAD with when it was last seen, never just its address', () =>
  withDir((dir) => {
    const gone = deadPid();
    write(dir, 'up.json', up({ agentPid: gone }));
    const h = platformHealth(dir)!;
    assert.equal(h.problem, true);
    assert.match(h.line, new RegExp(`^agent: DEAD, unreachable \\(pid ${gone}, http://127.0.0.1:7171, last seen 2026-01-01 00:05:00Z\\).*is restarting it`));
    write(dir, 'up.json', up({ agentPid: gone, agent: { url: 'http://127.0.0.1:7171', state: 'dead', lastSeenAt: '2026-01-01T00:05:00.000Z', restarts: 5, lastExit: { pid: gone, how: 'exit code 1', at: '2026-01-01T00:05:01.000Z' } } }));
    assert.match(platformHealth(dir, 'other')!.line, /stopped restarting it after too many deaths.*agent\.log.*`rollgate up --data-dir other` again/);
  }));

test('a dead up: its API is gone; whether its agent still serves is said', () =>
  withDir((dir) => {
    const gone = deadPid();
    write(dir, 'up.json', up({ pid: gone }));
    assert.match(platformHealth(dir)!.line, new RegExp(`^rollgate up \\(pid ${gone}\\) is not running.*its agent \\(pid ${process.pid}.*still serves`));
    write(dir, 'up.json', up({ pid: gone, agentPid: gone }));
    assert.match(platformHealth(dir)!.line, /is not running either, last seen 2026-01-01 00:05:00Z: every environment listener refuses connections; run `rollgate up` again/);
  }));

test('no up.json: a dead agent named by agent.json is DEAD; a live one or none says nothing', () =>
  withDir((dir) => {
    assert.equal(platformHealth(dir), null);
    write(dir, 'agent.json', { url: 'http://127.0.0.1:7171', pid: process.pid });
    assert.equal(platformHealth(dir), null);
    const gone = deadPid();
    write(dir, 'agent.json', { url: 'http://127.0.0.1:7171', pid: gone, startedAt: '2026-01-01T00:00:00.000Z' });
    assert.match(platformHealth(dir)!.line, new RegExp(`^agent: DEAD, unreachable \\(pid ${gone}, http://127.0.0.1:7171, started 2026-01-01 00:00:00Z\\)`));
  }));
