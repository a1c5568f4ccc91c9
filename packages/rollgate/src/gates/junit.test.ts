import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { parseJunit } from './junit.js';
import { fixture, workspace } from './testkit.js';

describe('JUnit gate', () => {
  const ws = workspace();
  after(() => ws.dispose());

  test('Vitest junit reporter output with failures: noFailures fails and names the tests and files', async () => {
    const r = await ws.gate({ junit: { path: 'reports/vitest-junit-failing.xml', noFailures: true } });
    assert.equal(r.passed, false);
    assert.deepEqual(
      { tests: r.metrics.tests, passed: r.metrics.passed, failed: r.metrics.failed, errors: r.metrics.errors, skipped: r.metrics.skipped },
      { tests: 8, passed: 5, failed: 2, errors: 0, skipped: 1 },
    );
    assert.equal(r.failures[0]!.condition, 'noFailures: true');
    assert.match(r.failures[0]!.detail, /2 of 7 executed tests failed/);
    const tests = r.failures.slice(1);
    assert.deepEqual(tests.map((f) => f.where), ['test/math.test.js:6', 'test/strings.test.js:4']);
    assert.match(tests[0]!.detail, /clamp > clamps high — AssertionError|clamp > clamps high — expected 10 to be 9/);
    assert.match(tests[1]!.detail, /throws on null — Cannot read properties of null \(reading 'toUpperCase'\)/);
    assert.match(r.summary, /8 tests: 5 passed, 2 failed, 0 errors, 1 skipped/);
  });

  test('Vitest output with failures: minPassRate 0.7 passes (5/7), 0.95 fails with the rate', async () => {
    const ok = await ws.gate({ junit: { path: 'reports/vitest-junit-failing.xml', minPassRate: 0.7 } });
    assert.equal(ok.passed, true, JSON.stringify(ok.failures));
    assert.ok(Math.abs(ok.metrics.passRate! - 5 / 7) < 1e-9);
    const bad = await ws.gate({ junit: { path: 'reports/vitest-junit-failing.xml', minPassRate: 0.95 } });
    assert.equal(bad.passed, false);
    assert.equal(bad.failures[0]!.condition, 'minPassRate: 0.95');
    assert.match(bad.failures[0]!.detail, /pass rate 71\.43% \(5\/7 executed\) is below 95%/);
  });

  test('Vitest output, all executed tests passing: passes with skipped tests excluded from the rate', async () => {
    const r = await ws.gate({ junit: { path: 'reports/vitest-junit-passing.xml' } });
    assert.equal(r.passed, true, JSON.stringify(r.failures));
    assert.deepEqual(r.failures, []);
    assert.equal(r.metrics.passRate, 1);
    assert.equal(r.metrics.skipped, 2);
  });

  test("Node's test runner (--test-reporter=junit): top-level cases outside any suite count, with the failing file line", async () => {
    const r = await ws.gate({ junit: { path: 'reports/node-test-junit.xml' } });
    assert.equal(r.passed, false);
    assert.deepEqual(
      { tests: r.metrics.tests, passed: r.metrics.passed, failed: r.metrics.failed, skipped: r.metrics.skipped },
      { tests: 4, passed: 2, failed: 1, skipped: 1 },
    );
    assert.match(r.failures[1]!.detail, /top-level fails — Expected values to be strictly equal/);
  });

  test('pytest --junitxml output: failures and fixture errors both count, classname is reported', async () => {
    const r = await ws.gate({ junit: { path: 'reports/pytest-junit.xml' } });
    assert.equal(r.passed, false);
    assert.equal(r.metrics.failed, 1);
    assert.equal(r.metrics.errors, 1);
    assert.equal(r.metrics.skipped, 1);
    assert.equal(r.metrics.passed, 2);
    const where = r.failures.slice(1).map((f) => f.where);
    assert.deepEqual(where, ['test_calc.TestCalc', 'test_calc']);
    assert.match(r.failures[2]!.detail, /^error in test_calc > test_uses_broken — failed on setup with "RuntimeError: fixture setup failed"/);
  });

  test('bare <testsuite> root, nested suites, file/line attributes (Jest/Surefire shapes)', () => {
    const xml = `<?xml version="1.0"?>
<testsuite name="outer" tests="3">
  <testsuite name="inner" file="src/a.test.ts">
    <testcase name="a1" classname="A" line="12"><failure>boom
second line</failure></testcase>
    <testcase name="a2" classname="A"/>
  </testsuite>
  <testcase name="b1" classname="B" file="src/b.test.ts"><skipped message="later"/></testcase>
</testsuite>`;
    const r = parseJunit(xml, 'x.xml');
    assert.equal(r.tests, 3);
    assert.equal(r.failed, 1);
    assert.equal(r.skipped, 1);
    assert.deepEqual(r.failing[0], { name: 'a1', classname: 'A', file: 'src/a.test.ts', line: 12, status: 'failed', message: 'boom' });
  });

  test('lists at most 5 failing tests and says how many there are', async () => {
    const cases = Array.from({ length: 9 }, (_, i) => `<testcase name="t${i}" classname="C"><failure message="m${i}"/></testcase>`).join('');
    ws.write('many.xml', `<testsuites><testsuite name="s">${cases}<testcase name="ok" classname="C"/></testsuite></testsuites>`);
    const r = await ws.gate({ junit: { path: 'many.xml' } });
    assert.equal(r.passed, false);
    assert.equal(r.failures.length, 1 + 5);
    assert.match(r.failures[0]!.detail, /9 of 10 executed tests failed or errored \(showing 5 of 9\)/);
  });

  test('a report with no executed tests fails unless allowEmpty', async () => {
    ws.write('empty.xml', '<testsuites name="vitest tests" tests="0" failures="0" errors="0"></testsuites>');
    const r = await ws.gate({ junit: { path: 'empty.xml' } });
    assert.equal(r.passed, false);
    assert.equal(r.failures[0]!.condition, 'tests > 0');
    const ok = await ws.gate({ junit: { path: 'empty.xml', allowEmpty: true } });
    assert.equal(ok.passed, true);
  });

  test('summary-only suites (counts in attributes, no testcases) are read from the attributes', async () => {
    ws.write('summary.xml', '<testsuites><testsuite name="s" tests="10" failures="1" errors="0" skipped="2"/></testsuites>');
    const r = await ws.gate({ junit: { path: 'summary.xml', minPassRate: 0.8 } });
    assert.equal(r.passed, true, JSON.stringify(r.failures));
    assert.equal(r.metrics.passed, 7);
    const strict = await ws.gate({ junit: { path: 'summary.xml' } });
    assert.equal(strict.passed, false);
  });

  test('malformed JUnit fails the gate with file and reason: truncated, not XML, wrong root, entities', async () => {
    const full = fixture('vitest-junit-passing.xml');
    ws.write('truncated.xml', full.slice(0, Math.floor(full.length / 2)));
    ws.write('text.xml', 'All tests passed!\n');
    ws.write('html.xml', '<html><body>report</body></html>');
    ws.write('bomb.xml', '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><testsuites>&b;</testsuites>');
    ws.write('badcount.xml', '<testsuite name="s" tests="lots"/>');
    const cases: [string, RegExp][] = [
      ['truncated.xml', /JUnit report truncated\.xml is not well-formed XML \(line \d+.*truncated/],
      ['text.xml', /not well-formed XML/],
      ['html.xml', /not a JUnit report: expected a <testsuites> or <testsuite> root element, found <html>/],
      ['bomb.xml', /declares XML entities/],
      ['badcount.xml', /tests="lots" is not a count/],
    ];
    for (const [file, re] of cases) {
      const r = await ws.gate({ junit: { path: file } });
      assert.equal(r.passed, false, file);
      assert.equal(r.failures.length, 1, file);
      assert.equal(r.failures[0]!.condition, 'input', file);
      assert.equal(r.failures[0]!.where, file);
      assert.match(r.failures[0]!.detail, re, file);
    }
  });
});
