/**
 * JUnit XML, as written by Vitest, Jest (jest-junit), pytest, Node's test runner, Maven Surefire
 * and Gradle: `<testsuites>` or a bare `<testsuite>` root, suites possibly nested (Node: test
 * cases also straight under `<testsuites>`), `<testcase>` with an
 * optional `<failure>`, `<error>` or `<skipped>` child. Counts come from the test cases themselves
 * (suite attributes are sums some tools get wrong); attributes are used only when a file has none.
 */
import type { JunitGate } from './spec.js';
import { BadArtifact, MAX_LISTED, pct, verdict, type GateFailure, type GateResult } from './types.js';
import { attr, children, parseXml, rootName, text, type XmlNode } from './xml.js';

export interface JunitCase {
  name: string;
  classname?: string;
  file?: string;
  line?: number;
  status: 'passed' | 'failed' | 'error' | 'skipped';
  message?: string;
}

export interface JunitReport {
  tests: number;
  passed: number;
  failed: number;
  errors: number;
  skipped: number;
  /** Failed and errored cases, in file order. */
  failing: JunitCase[];
}

const ARRAYS = ['testsuite', 'testcase', 'failure', 'error', 'skipped'] as const;

export function parseJunit(xml: string, what: string): JunitReport {
  const doc = parseXml(xml, what, ARRAYS);
  const root = rootName(doc);
  if (root !== 'testsuites' && root !== 'testsuite') {
    throw new BadArtifact(`${what} is not a JUnit report: expected a <testsuites> or <testsuite> root element, found <${root ?? 'nothing'}>`);
  }
  const report: JunitReport = { tests: 0, passed: 0, failed: 0, errors: 0, skipped: 0, failing: [] };
  const suites = root === 'testsuites' ? children(doc, 'testsuites').flatMap((s) => children(s, 'testsuite')) : children(doc, 'testsuite');
  let cases = 0;
  const walk = (suite: XmlNode): void => {
    for (const tc of children(suite, 'testcase')) {
      cases++;
      addCase(report, tc, attr(suite, 'file'));
    }
    for (const inner of children(suite, 'testsuite')) walk(inner);
  };
  for (const s of suites) walk(s);
  // Node's test runner puts top-level tests straight under <testsuites>, with no suite around them.
  if (root === 'testsuites') {
    for (const tc of children(doc, 'testsuites').flatMap((s) => children(s, 'testcase'))) {
      cases++;
      addCase(report, tc, undefined);
    }
  }
  if (cases === 0) fromAttributes(report, suites, what);
  return report;
}

function addCase(report: JunitReport, tc: XmlNode, suiteFile: string | undefined): void {
  const failure = children(tc, 'failure')[0];
  const error = children(tc, 'error')[0];
  const status: JunitCase['status'] = failure ? 'failed' : error ? 'error' : children(tc, 'skipped').length > 0 ? 'skipped' : 'passed';
  report.tests++;
  report[status === 'error' ? 'errors' : status]++;
  if (status !== 'failed' && status !== 'error') return;
  const problem = (failure ?? error)!;
  const line = Number(attr(tc, 'line'));
  const file = attr(tc, 'file') ?? suiteFile;
  const c: JunitCase = { name: attr(tc, 'name') ?? '(unnamed test)', status };
  const classname = attr(tc, 'classname');
  if (classname) c.classname = classname;
  if (file) c.file = file;
  if (Number.isInteger(line) && line > 0) c.line = line;
  else {
    // Vitest and Jest put no line attribute, but their stack names the test file: "❯ test/a.test.js:6:52".
    const path = file ?? classname;
    const m = path ? new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`).exec(text(problem)) : null;
    if (m) c.line = Number(m[1]);
  }
  const message = firstLine(attr(problem, 'message') ?? text(problem));
  if (message) c.message = message;
  report.failing.push(c);
}

/** Some summaries carry only suite totals; use them rather than read "no tests". */
function fromAttributes(report: JunitReport, suites: XmlNode[], what: string): void {
  for (const s of suites) {
    const n = (k: string): number => {
      const raw = attr(s, k);
      if (raw === undefined) return 0;
      const v = Number(raw);
      if (!Number.isInteger(v) || v < 0) throw new BadArtifact(`${what}: testsuite attribute ${k}="${raw}" is not a count`);
      return v;
    };
    const tests = n('tests');
    const failed = n('failures');
    const errors = n('errors');
    const skipped = n('skipped') + n('disabled');
    if (failed + errors + skipped > tests) throw new BadArtifact(`${what}: testsuite "${attr(s, 'name') ?? ''}" counts more failures, errors and skips than tests`);
    report.tests += tests;
    report.failed += failed;
    report.errors += errors;
    report.skipped += skipped;
    report.passed += tests - failed - errors - skipped;
  }
}

function firstLine(s: string): string {
  const line = s.trim().split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

export function describeCase(c: JunitCase): string {
  const where = c.file ?? c.classname;
  return where ? `${where}${c.line ? `:${c.line}` : ''}` : c.name;
}

export function evaluateJunit(gate: JunitGate, report: JunitReport): GateResult {
  const executed = report.tests - report.skipped;
  const passRate = executed === 0 ? 0 : report.passed / executed;
  const metrics = { tests: report.tests, passed: report.passed, failed: report.failed, errors: report.errors, skipped: report.skipped, passRate };
  const totals = `${report.tests} tests: ${report.passed} passed, ${report.failed} failed, ${report.errors} errors, ${report.skipped} skipped`;
  const failures: GateFailure[] = [];
  if (executed === 0) {
    if (!gate.allowEmpty) failures.push({ condition: 'tests > 0', detail: `${gate.path} has no executed tests (${totals}); set allowEmpty: true if that is expected`, where: gate.path });
    return verdict(failures, `JUnit ${gate.path}: no tests ran (allowed)`, `JUnit ${gate.path}: no tests ran`, metrics);
  }
  const noFailures = gate.noFailures ?? gate.minPassRate === undefined;
  const broken = report.failed + report.errors;
  const listed = report.failing.slice(0, MAX_LISTED).map((c) => ({
    detail: `${c.status === 'error' ? 'error in' : 'failed:'} ${c.classname && !c.file ? `${c.classname} > ` : ''}${c.name}${c.message ? ` — ${c.message}` : ''}`,
    where: describeCase(c),
  }));
  const more = broken > listed.length ? ` (showing ${listed.length} of ${broken})` : '';
  if (noFailures && broken > 0) {
    failures.push({ condition: 'noFailures: true', detail: `${broken} of ${executed} executed tests failed or errored${more}` });
  }
  if (gate.minPassRate !== undefined && passRate < gate.minPassRate) {
    failures.push({ condition: `minPassRate: ${gate.minPassRate}`, detail: `pass rate ${pct(passRate * 100)} (${report.passed}/${executed} executed) is below ${pct(gate.minPassRate * 100)}${more}` });
  }
  const first = failures[0];
  if (first) for (const l of listed) failures.push({ condition: first.condition, ...l });
  return verdict(failures, `JUnit ${gate.path}: passed (${totals})`, `JUnit ${gate.path}: failed (${totals})`, metrics);
}
