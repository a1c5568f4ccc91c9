import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { levelFromSecuritySeverity } from './sarif.js';
import { fixture, workspace } from './testkit.js';

describe('SARIF gate', () => {
  const ws = workspace();
  after(() => ws.dispose());

  test('ESLint SARIF (real formatter output): failOn error fails with rule, message and file:line', async () => {
    const r = await ws.gate({ sarif: { path: 'reports/eslint.sarif', failOn: 'error' } });
    assert.equal(r.passed, false);
    assert.deepEqual([r.metrics.error, r.metrics.warning, r.metrics.note], [2, 1, 0]);
    assert.match(r.failures[0]!.detail, /2 result\(s\) at or above error/);
    assert.deepEqual(r.failures.slice(1).map((f) => f.where), ['/work/app/lint/app.js:3', '/work/app/lint/app.js:4']);
    assert.equal(r.failures[1]!.detail, "error: eqeqeq: Expected '===' and instead saw '=='.");
  });

  test('ESLint SARIF with only a warning: failOn error passes, failOn warning fails, failOn note fails', async () => {
    assert.equal((await ws.gate({ sarif: { path: 'reports/eslint-warnings.sarif', failOn: 'error' } })).passed, true);
    const w = await ws.gate({ sarif: { path: 'reports/eslint-warnings.sarif', failOn: 'warning' } });
    assert.equal(w.passed, false);
    assert.match(w.failures[1]!.detail, /^warning: no-unused-vars: 'unused' is assigned a value but never used\.$/);
    assert.equal(w.failures[1]!.where, '/work/app/lint2/w.js:2');
    assert.equal((await ws.gate({ sarif: { path: 'reports/eslint-warnings.sarif', failOn: 'note' } })).passed, false);
  });

  test('ESLint SARIF of a clean file passes even at failOn note', async () => {
    const r = await ws.gate({ sarif: { path: 'reports/eslint-clean.sarif', failOn: 'note' } });
    assert.equal(r.passed, true, JSON.stringify(r.failures));
    assert.equal(r.metrics.results, 0);
  });

  test('hand-written CodeQL-shaped SARIF: rule defaults, extensions, security-severity, messageStrings, kind pass', async () => {
    const r = await ws.gate({ sarif: { path: 'reports/security-scanner.sarif', failOn: 'error' } });
    assert.equal(r.passed, false);
    // warning by default but security-severity 7.5 -> error; error by default (2.1 does not lower it); note; kind=pass ignored
    assert.deepEqual([r.metrics.error, r.metrics.warning, r.metrics.note, r.metrics.results], [2, 0, 1, 4]);
    const listed = r.failures.slice(1);
    assert.deepEqual(listed.map((f) => f.where), ['src/server.js:42', 'src/log.js:7']);
    assert.match(listed[0]!.detail, /^error, security-severity 7\.5: js\/missing-rate-limiting: This route handler/);
    assert.match(listed[1]!.detail, /js\/log-injection: Log entry depends on a user-provided value\./);
  });

  test('security-severity mapping follows GitHub code scanning bands', () => {
    assert.deepEqual([9.8, 7.0, 6.9, 4.0, 3.9, 0.1, 0].map(levelFromSecuritySeverity), ['error', 'error', 'warning', 'warning', 'note', 'note', 'none']);
  });

  test('a result without level or rule defaults to warning (SARIF 2.1.0 §3.27.10)', async () => {
    ws.write('nolevel.sarif', JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'semgrep' } }, results: [{ ruleId: 'r1', message: { text: 'm' } }] }] }));
    assert.equal((await ws.gate({ sarif: { path: 'nolevel.sarif', failOn: 'error' } })).passed, true);
    assert.equal((await ws.gate({ sarif: { path: 'nolevel.sarif', failOn: 'warning' } })).passed, false);
  });

  test('a scanner run that did not complete fails the gate even without findings', async () => {
    const log = (run: object) => JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'trivy' } }, ...run }] });
    ws.write('noresults.sarif', log({}));
    ws.write('crashed.sarif', log({ results: [], invocations: [{ executionSuccessful: false }] }));
    for (const file of ['noresults.sarif', 'crashed.sarif']) {
      const r = await ws.gate({ sarif: { path: file, failOn: 'error' } });
      assert.equal(r.passed, false, file);
      assert.match(r.failures[0]!.detail, /run 0 \(trivy\) did not complete/, file);
    }
  });

  test('malformed SARIF fails the gate with file and reason', async () => {
    const full = fixture('eslint.sarif');
    ws.write('trunc.sarif', full.slice(0, full.length - 40));
    ws.write('notjson.sarif', 'Scan finished: 0 issues\n');
    ws.write('shape.sarif', JSON.stringify({ version: '2.1.0', runs: {} }));
    ws.write('level.sarif', JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ level: 'critical', message: { text: 'm' } }] }] }));
    ws.write('v1.sarif', JSON.stringify({ version: '1.0.0', runs: [] }));
    ws.write('sev.sarif', JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ message: { text: 'm' }, properties: { 'security-severity': 'high' } }] }] }));
    const cases: [string, RegExp][] = [
      ['trunc.sarif', /SARIF log trunc\.sarif is not valid JSON .*truncated/],
      ['notjson.sarif', /is not valid JSON/],
      ['shape.sarif', /is not a SARIF log: at runs: /],
      ['level.sarif', /at runs\.0\.results\.0\.level: /],
      ['v1.sarif', /SARIF version "1\.0\.0"; only 2\.1\.0 is supported/],
      ['sev.sarif', /at runs\.0\.results\.0\.properties\.security-severity: security-severity "high" is not a number from 0\.0 to 10\.0/],
    ];
    for (const [file, re] of cases) {
      const r = await ws.gate({ sarif: { path: file, failOn: 'error' } });
      assert.equal(r.passed, false, file);
      assert.equal(r.failures[0]!.condition, 'input', file);
      assert.match(r.failures[0]!.detail, re, file);
    }
  });
});
