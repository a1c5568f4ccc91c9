/** `rollgate agent install --systemd`: the units it prints and writes, checked key by key and by systemd-analyze when present. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROLLGATE_BIN } from '../demo/fixtures.js';
import { rollgate } from '../test/cli-run.js';
import { parseUnit } from './systemd-unit.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'rollgate-install-'));
const systemdAnalyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find(existsSync) ?? null;

test('prints an agent and a server unit with restart on failure, absolute paths and the given account', async () => {
  const dir = tmp();
  try {
    const dataDir = join(dir, 'data dir'); // a space: ExecStart must quote it
    const r = await rollgate(dir, ['agent', 'install', '--systemd', '--data-dir', dataDir, '--user', 'rgsvc', '--port', '7171', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /--user rgsvc: .*namespace isolation at best/);
    const units = (JSON.parse(r.stdout) as { units: Record<string, string> }).units;
    const agent = parseUnit(units['rollgate-agent.service']!);
    const server = parseUnit(units['rollgate-server.service']!);
    assert.deepEqual(agent.Service!.ExecStart, [`${process.execPath} ${ROLLGATE_BIN} agent --data-dir "${dataDir}" --port 7171`]);
    assert.deepEqual(server.Service!.ExecStart, [`${process.execPath} ${ROLLGATE_BIN} server --data-dir "${dataDir}" --port 7070`]);
    for (const u of [agent, server]) {
      assert.deepEqual(u.Service!.Restart, ['on-failure']);
      assert.deepEqual(u.Service!.RestartSec, ['1s']);
      assert.deepEqual(u.Service!.User, ['rgsvc']);
      assert.deepEqual(u.Service!.NoNewPrivileges, ['yes']);
      assert.equal(u.Service!.ProtectSystem, undefined, 'useradd must be able to write /etc');
      assert.equal(u.Service!.CapabilityBoundingSet, undefined, 'setpriv and bwrap need their capabilities');
      assert.deepEqual(u.Unit!.StartLimitBurst, ['5']);
      assert.deepEqual(u.Install!.WantedBy, ['multi-user.target']);
    }
    assert.deepEqual(agent.Service!.KillMode, ['mixed'], 'SIGTERM to the agent alone: it drains its instances');
    assert.match(server.Unit!.After![0]!, /rollgate-agent\.service/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--write puts both units in the directory; systemd-analyze verify accepts them', async (t) => {
  const dir = tmp();
  try {
    const r = await rollgate(dir, ['agent', 'install', '--systemd', '--data-dir', join(dir, 'data'), '--write', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*rollgate-agent\.service\nwrote .*rollgate-server\.service\nnext: systemctl daemon-reload/);
    const agent = parseUnit(readFileSync(join(dir, 'rollgate-agent.service'), 'utf8'));
    assert.equal(agent.Service!.User, undefined, 'root by default: per-app OS accounts need it');
    if (!systemdAnalyze) {
      t.skip('systemd-analyze is not installed: the units were checked key by key only');
      process.stderr.write('SKIPPED: systemd-analyze verify (systemd not installed)\n');
      return;
    }
    const v = spawnSync(systemdAnalyze, ['verify', join(dir, 'rollgate-agent.service'), join(dir, 'rollgate-server.service')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(v.status, 0, `systemd-analyze verify: ${v.stdout}${v.stderr}`);
    assert.doesNotMatch(v.stderr, /rollgate-(agent|server)\.service:\d+: /, `systemd-analyze warns about a line: ${v.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input: --write to a path that cannot take the units, no --systemd, a bad --user: a clear error, nothing written', async () => {
  const dir = tmp();
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const r = await rollgate(dir, ['agent', 'install', '--systemd', '--write', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`cannot write ${file}/rollgate-agent\\.service \\(--write ${file}\\): that is not a directory`));
    const missing = await rollgate(dir, ['agent', 'install', '--systemd', '--write', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such directory: create it first/);
    const noKind = await rollgate(dir, ['agent', 'install', '--write', dir]);
    assert.equal(noKind.code, 2);
    assert.match(noKind.stderr, /--systemd/);
    const badUser = await rollgate(dir, ['agent', 'install', '--systemd', '--user', 'Root; rm', '--write', dir]);
    assert.equal(badUser.code, 2);
    assert.match(badUser.stderr, /--user: a user name/);
    assert.deepEqual(readdirSync(dir), ['a-file']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
