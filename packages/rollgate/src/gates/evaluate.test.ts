import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { RollgateError } from '../core/errors.js';
import { evaluateGate } from './evaluate.js';
import { checkArtifactPath, workspaceReader } from './paths.js';
import { GateSpec } from './spec.js';
import { workspace } from './testkit.js';

describe('gate spec and evaluateGate', () => {
  const ws = workspace();
  after(() => ws.dispose());

  test('the spec takes exactly one format and rejects path escapes when loaded', () => {
    const msg = (v: unknown): string => {
      const r = GateSpec.safeParse(v);
      assert.equal(r.success, false, JSON.stringify(v));
      return r.error!.issues.map((i) => i.message).join('; ');
    };
    assert.match(msg({}), /exactly one artifact: give one of junit, coverage, sarif or npmAudit \(has none\)/);
    assert.match(msg({ junit: { path: 'a.xml' }, sarif: { path: 'b', failOn: 'error' } }), /has junit, sarif/);
    assert.match(msg({ junit: { path: '/etc/passwd' } }), /is absolute; write it relative to the run's workspace/);
    assert.match(msg({ junit: { path: 'reports/../../x.xml' } }), /leaves the run's workspace/);
    assert.match(msg({ junit: { path: 'C:\\x.xml' } }), /is absolute/);
    assert.match(msg({ junit: { path: 'a.xml', noFailures: false } }), /noFailures: false needs minPassRate/);
    assert.match(msg({ junit: { path: 'a.xml', minPassRate: 95 } }), /<=1|less than or equal to 1/i);
    assert.match(msg({ coverage: { path: 'a', format: 'jacoco', minLineCoverage: 80 } }), /lcov|cobertura/);
    assert.match(msg({ sarif: { path: 'a', failOn: 'critical' } }), /note|warning|error/);
    assert.ok(GateSpec.safeParse({ npmAudit: { path: './audit/../audit.json', failOn: 'high' } }).success);
  });

  test('a missing artifact fails the gate and says which file', async () => {
    const r = await ws.gate({ junit: { path: 'reports/nope.xml' } });
    assert.equal(r.passed, false);
    assert.deepEqual(r.failures, [{ condition: 'input', where: 'reports/nope.xml', detail: 'JUnit report reports/nope.xml does not exist; did the run stage write it (check its artifacts and working directory)?' }]);
    const dir = await ws.gate({ sarif: { path: 'reports', failOn: 'error' } });
    assert.equal(dir.passed, false);
    assert.match(dir.failures[0]!.detail, /is not a regular file/);
  });

  test('escaping paths fail the gate even when the spec was not parsed, and readFile is never called', async () => {
    let calls = 0;
    const reader = async () => {
      calls++;
      return '<testsuites/>';
    };
    for (const path of ['/etc/passwd', '../outside.xml', 'a/../../b.xml', '..\\x.xml']) {
      const r = await evaluateGate({ junit: { path, allowEmpty: true } }, reader);
      assert.equal(r.passed, false, path);
      assert.equal(r.failures[0]!.condition, 'input');
    }
    assert.equal(calls, 0);
    assert.throws(() => checkArtifactPath('../x'), (e: unknown) => e instanceof RollgateError && e.code === 'invalid_input');
  });

  test('a symlink pointing outside the workspace is refused', async () => {
    symlinkSync('/etc/hostname', `${ws.dir}/link.xml`);
    const r = await ws.gate({ junit: { path: 'link.xml' } });
    assert.equal(r.passed, false);
    assert.match(r.failures[0]!.detail, /resolves \(through a symlink\) outside the run's workspace/);
  });

  test('an artifact over the size limit fails the gate', async () => {
    ws.write('big.json', 'x'.repeat(2048));
    const r = await evaluateGate(GateSpec.parse({ npmAudit: { path: 'big.json', failOn: 'high' } }), workspaceReader(ws.dir, 1024));
    assert.equal(r.passed, false);
    assert.match(r.failures[0]!.detail, /2048 bytes, over the 1024-byte limit/);
  });

  test('a reader that throws something unexpected still yields a failed gate, not an exception', async () => {
    const r = await evaluateGate({ npmAudit: { path: 'a.json', failOn: 'high' } }, () => Promise.reject(new Error('disk on fire')));
    assert.equal(r.passed, false);
    assert.match(r.failures[0]!.detail, /could not be read: disk on fire/);
  });
});
