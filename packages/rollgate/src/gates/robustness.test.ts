import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { evaluateGate } from './evaluate.js';
import { GateSpec } from './spec.js';
import { fixture } from './testkit.js';

/** Every gate with its most lenient conditions: only the artifact's validity can fail it. */
const LENIENT = (path: string) => [
  GateSpec.parse({ junit: { path, minPassRate: 0, allowEmpty: true } }),
  GateSpec.parse({ coverage: { path, format: 'lcov', minLineCoverage: 0 } }),
  GateSpec.parse({ coverage: { path, format: 'cobertura', minLineCoverage: 0 } }),
  GateSpec.parse({ sarif: { path, failOn: 'error' } }),
  GateSpec.parse({ npmAudit: { path, failOn: 'critical' } }),
];

describe('gates never pass bad input and never throw', () => {
  test('arbitrary content: every gate resolves to a failed result (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'binary' })), async (content) => {
        for (const spec of LENIENT('a')) {
          const r = await evaluateGate(spec, async () => content);
          assert.equal(r.passed, false, `${JSON.stringify(spec)} passed ${JSON.stringify(content)}`);
          assert.ok(r.failures.length > 0);
        }
      }),
      { numRuns: 100 },
    );
  });

  // A real report cut anywhere before its last element closes must not pass (XML and JSON are
  // self-delimiting, so truncation is always detectable; lcov is checked per record in coverage.test).
  const truncatable: [string, (p: string) => GateSpec][] = [
    ['vitest-junit-passing.xml', (path) => GateSpec.parse({ junit: { path, minPassRate: 0, allowEmpty: true } })],
    ['pytest-junit.xml', (path) => GateSpec.parse({ junit: { path, minPassRate: 0, allowEmpty: true } })],
    ['vitest-cobertura.xml', (path) => GateSpec.parse({ coverage: { path, format: 'cobertura', minLineCoverage: 0 } })],
    ['eslint-clean.sarif', (path) => GateSpec.parse({ sarif: { path, failOn: 'error' } })],
    ['npm-audit-clean.json', (path) => GateSpec.parse({ npmAudit: { path, failOn: 'critical' } })],
  ];
  for (const [name, spec] of truncatable) {
    test(`${name} truncated at any point fails the gate (fast-check)`, async () => {
      const full = fixture(name);
      assert.equal((await evaluateGate(spec(name), async () => full)).passed, true, 'the complete file passes');
      const end = full.trimEnd().length - 1;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: end }), async (cut) => {
          const r = await evaluateGate(spec(name), async () => full.slice(0, cut));
          assert.equal(r.passed, false, `cut at ${cut} passed`);
          assert.equal(r.failures[0]!.condition, 'input');
        }),
        { numRuns: 60 },
      );
    });
  }
});
