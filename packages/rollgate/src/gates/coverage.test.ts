import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { parseLcov } from './lcov.js';
import { fixture, workspace } from './testkit.js';

describe('coverage gate', () => {
  const ws = workspace();
  after(() => ws.dispose());

  for (const [format, path] of [['lcov', 'reports/vitest-lcov.info'], ['cobertura', 'reports/vitest-cobertura.xml']] as const) {
    test(`${format} from Vitest (coverage-v8): totals match the tool's own table (66.67% lines, 77.78% branches)`, async () => {
      const r = await ws.gate({ coverage: { path, format, minLineCoverage: 60, minBranchCoverage: 75 } });
      assert.equal(r.passed, true, JSON.stringify(r.failures));
      assert.equal(r.metrics.linesFound, 18);
      assert.equal(r.metrics.linesHit, 12);
      assert.equal(r.metrics.branchesFound, 9);
      assert.equal(r.metrics.branchesHit, 7);
      assert.equal(r.metrics.files, 2);
    });

    test(`${format} from Vitest: minLineCoverage 80 fails and names the least-covered files first`, async () => {
      const r = await ws.gate({ coverage: { path, format, minLineCoverage: 80 } });
      assert.equal(r.passed, false);
      assert.equal(r.failures[0]!.condition, 'minLineCoverage: 80');
      assert.match(r.failures[0]!.detail, /line coverage 66\.67% \(12\/18 lines\) is below 80%/);
      assert.deepEqual(r.failures.slice(1).map((f) => f.where), ['src/strings.js', 'src/math.js']);
      assert.match(r.failures[1]!.detail, /src\/strings\.js: 57\.14% of lines covered, 3 lines not covered/);
    });

    test(`${format} from Vitest: minBranchCoverage 90 fails on branches alone`, async () => {
      const r = await ws.gate({ coverage: { path, format, minLineCoverage: 50, minBranchCoverage: 90 } });
      assert.equal(r.passed, false);
      assert.deepEqual(r.failures.map((f) => f.condition), ['minBranchCoverage: 90']);
      assert.match(r.failures[0]!.detail, /branch coverage 77\.78% \(7\/9 branches\) is below 90%/);
    });
  }

  test('lcov records without LF/LH are counted from DA lines', () => {
    const r = parseLcov('SF:a.js\nDA:1,1\nDA:2,0\nDA:3,5\nend_of_record\n', 'x');
    assert.deepEqual([r.linesFound, r.linesHit, r.branchesFound], [3, 2, undefined]);
  });

  test('Cobertura with rates only (no counts) uses line-rate/branch-rate', async () => {
    ws.write('rates.xml', '<?xml version="1.0"?><coverage line-rate="0.853" branch-rate="0.5" version="1"><packages/></coverage>');
    const ok = await ws.gate({ coverage: { path: 'rates.xml', format: 'cobertura', minLineCoverage: 85 } });
    assert.equal(ok.passed, true, JSON.stringify(ok.failures));
    assert.ok(Math.abs(ok.metrics.lineCoverage! - 85.3) < 1e-9);
    const bad = await ws.gate({ coverage: { path: 'rates.xml', format: 'cobertura', minLineCoverage: 85, minBranchCoverage: 60 } });
    assert.equal(bad.passed, false);
    assert.match(bad.failures[0]!.detail, /branch coverage 50% is below 60%/);
  });

  test('minBranchCoverage on a report with no branch data fails instead of passing', async () => {
    ws.write('nobranch.info', 'SF:a.js\nLF:10\nLH:10\nend_of_record\n');
    const r = await ws.gate({ coverage: { path: 'nobranch.info', format: 'lcov', minLineCoverage: 80, minBranchCoverage: 50 } });
    assert.equal(r.passed, false);
    assert.equal(r.failures[0]!.condition, 'input');
    assert.match(r.failures[0]!.detail, /no branch data/);
  });

  test('malformed coverage files fail the gate with file and reason', async () => {
    const lcov = fixture('vitest-lcov.info');
    const cob = fixture('vitest-cobertura.xml');
    ws.write('trunc.info', lcov.slice(0, lcov.indexOf('end_of_record', lcov.indexOf('SF:src/strings.js'))));
    ws.write('junk.info', '<html>not lcov</html>\n');
    ws.write('empty.info', '');
    ws.write('neg.info', 'SF:a.js\nLF:3\nLH:7\nend_of_record\n');
    ws.write('nan.info', 'SF:a.js\nLF:ten\nLH:7\nend_of_record\n');
    ws.write('trunc.xml', cob.slice(0, 900));
    ws.write('junit-as-cov.xml', fixture('vitest-junit-passing.xml'));
    ws.write('rate.xml', '<coverage line-rate="1.7" branch-rate="0"/>');
    ws.write('norate.xml', '<coverage version="1"/>');
    const cases: [string, 'lcov' | 'cobertura', RegExp][] = [
      ['trunc.info', 'lcov', /ends inside the record for src\/strings\.js \(no end_of_record\): the file looks truncated/],
      ['junk.info', 'lcov', /line 1: not an lcov line/],
      ['empty.info', 'lcov', /has no coverage records/],
      ['neg.info', 'lcov', /more lines hit \(7\) than found \(3\)/],
      ['nan.info', 'lcov', /line 2: LF expects a count/],
      ['trunc.xml', 'cobertura', /not well-formed XML/],
      ['junit-as-cov.xml', 'cobertura', /expected a <coverage> root element, found <testsuites>/],
      ['rate.xml', 'cobertura', /line-rate="1\.7" is not a rate between 0 and 1/],
      ['norate.xml', 'cobertura', /neither line-rate nor lines-valid/],
    ];
    for (const [file, format, re] of cases) {
      const r = await ws.gate({ coverage: { path: file, format, minLineCoverage: 0 } });
      assert.equal(r.passed, false, file);
      assert.equal(r.failures[0]!.condition, 'input', file);
      assert.match(r.failures[0]!.detail, re, file);
    }
  });
});
