import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { fixture, workspace } from './testkit.js';

describe('npm audit gate', () => {
  const ws = workspace();
  after(() => ws.dispose());

  test('hand-written npm 7+ report (no network for a live audit): failOn high fails naming the critical package', async () => {
    const r = await ws.gate({ npmAudit: { path: 'reports/npm-audit-vulnerable.json', failOn: 'high' } });
    assert.equal(r.passed, false);
    assert.equal(r.failures[0]!.detail, '1 vulnerable package(s) at or above high: lodash');
    assert.match(r.failures[1]!.detail, /^lodash \(critical, direct\): Command Injection in lodash; Prototype Pollution in lodash; fix: npm audit fix$/);
    assert.deepEqual([r.metrics.critical, r.metrics.high, r.metrics.moderate, r.metrics.low], [1, 0, 2, 1]);
  });

  test('hand-written npm 7+ report: failOn moderate names direct and transitive packages, most severe first', async () => {
    const r = await ws.gate({ npmAudit: { path: 'reports/npm-audit-vulnerable.json', failOn: 'moderate' } });
    assert.equal(r.passed, false);
    assert.deepEqual(r.failures.slice(1).map((f) => f.where), ['lodash', 'minimist', 'mkdirp']);
    assert.match(r.failures[3]!.detail, /mkdirp \(moderate, direct\): via minimist; fix: mkdirp@3\.0\.1 \(major\)/);
  });

  test('hand-written npm 7+ report: failOn critical fails, the clean report passes at failOn low', async () => {
    assert.equal((await ws.gate({ npmAudit: { path: 'reports/npm-audit-vulnerable.json', failOn: 'critical' } })).passed, false);
    const clean = await ws.gate({ npmAudit: { path: 'reports/npm-audit-clean.json', failOn: 'low' } });
    assert.equal(clean.passed, true, JSON.stringify(clean.failures));
    assert.match(clean.summary, /passed \(0 critical, 0 high, 0 moderate, 0 low, 0 info\)/);
  });

  test('only a low advisory: failOn moderate passes, failOn low fails', async () => {
    const report = JSON.parse(fixture('npm-audit-vulnerable.json')) as { vulnerabilities: Record<string, unknown>; metadata: { vulnerabilities: Record<string, number> } };
    report.vulnerabilities = { debug: report.vulnerabilities.debug };
    report.metadata.vulnerabilities = { info: 0, low: 1, moderate: 0, high: 0, critical: 0, total: 1 };
    ws.write('low.json', JSON.stringify(report));
    assert.equal((await ws.gate({ npmAudit: { path: 'low.json', failOn: 'moderate' } })).passed, true);
    assert.equal((await ws.gate({ npmAudit: { path: 'low.json', failOn: 'low' } })).passed, false);
  });

  test('counts that disagree with an empty map still fail the gate', async () => {
    ws.write('inconsistent.json', JSON.stringify({ auditReportVersion: 2, vulnerabilities: {}, metadata: { vulnerabilities: { info: 0, low: 0, moderate: 0, high: 2, critical: 0, total: 2 } } }));
    const r = await ws.gate({ npmAudit: { path: 'inconsistent.json', failOn: 'high' } });
    assert.equal(r.passed, false);
    assert.match(r.failures[0]!.detail, /metadata counts 2 vulnerabilities at or above high but the report names no package/);
  });

  test('real npm error output, npm 6 format, truncated and wrong-shape files fail with the reason', async () => {
    const full = fixture('npm-audit-vulnerable.json');
    ws.write('trunc.json', full.slice(0, 500));
    ws.write('npm6.json', JSON.stringify({ actions: [], advisories: {}, metadata: { vulnerabilities: { low: 0 } } }));
    ws.write('shape.json', JSON.stringify({ auditReportVersion: 2, vulnerabilities: { x: { severity: 'severe' } }, metadata: { vulnerabilities: {} } }));
    ws.write('array.json', '[]');
    const cases: [string, RegExp][] = [
      ['reports/npm-audit-error.json', /is npm's error output, not an audit report: npm audit failed \(405 Method Not Allowed/],
      ['trunc.json', /is not valid JSON .*truncated/],
      ['npm6.json', /npm 6 audit format; run npm audit --json with npm 7 or later/],
      ['shape.json', /not an npm audit --json report: at vulnerabilities\.x\.severity/],
      ['array.json', /not an npm audit --json report: at \(root\): .*expected object, received array/],
    ];
    for (const [file, re] of cases) {
      const r = await ws.gate({ npmAudit: { path: file, failOn: 'low' } });
      assert.equal(r.passed, false, file);
      assert.equal(r.failures[0]!.condition, 'input', file);
      assert.match(r.failures[0]!.detail, re, file);
    }
  });
});
