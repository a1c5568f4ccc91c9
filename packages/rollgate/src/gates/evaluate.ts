/**
 * evaluateGate: read the artifact a gate names and judge it. Never throws for anything about the
 * artifact (missing, unreadable, malformed, wrong format, path escaping the workspace): each of
 * those fails the gate with the reason, so a broken report can never pass a gate.
 */
import { errorMessage } from '../core/errors.js';
import { evaluateCoverage, parseCoverage } from './coverage.js';
import { evaluateJunit, parseJunit } from './junit.js';
import { evaluateNpmAudit, parseNpmAudit } from './npm-audit.js';
import { artifactPathProblem } from './paths.js';
import { evaluateSarif, parseSarif } from './sarif.js';
import type { GateSpec } from './spec.js';
import { fail, type GateResult, type ReadArtifact } from './types.js';

const LABEL = { junit: 'JUnit report', coverage: 'coverage report', sarif: 'SARIF log', npmAudit: 'npm audit report' } as const;

export async function evaluateGate(spec: GateSpec, readFile: ReadArtifact): Promise<GateResult> {
  const kind = spec.junit ? 'junit' : spec.coverage ? 'coverage' : spec.sarif ? 'sarif' : spec.npmAudit ? 'npmAudit' : undefined;
  if (kind === undefined) return fail('gate has no condition', [{ condition: 'spec', detail: 'a gate needs one of junit, coverage, sarif or npmAudit' }]);
  const path = spec[kind]!.path;
  const label = kind === 'coverage' ? `${spec.coverage!.format} ${LABEL.coverage}` : LABEL[kind];
  const what = `${label} ${path}`;
  const bad = (detail: string): GateResult => fail(`${label} ${path}: cannot be judged`, [{ condition: 'input', detail, where: path }]);

  const problem = artifactPathProblem(path);
  if (problem !== undefined) return bad(problem);
  let content: string;
  try {
    content = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return bad(`${what} does not exist; did the run stage write it (check its artifacts and working directory)?`);
    if (code === 'EISDIR') return bad(`${what} is a directory, not a file`);
    return bad(`${what} could not be read: ${errorMessage(e)}`);
  }
  try {
    if (spec.junit) return evaluateJunit(spec.junit, parseJunit(content, what));
    if (spec.coverage) return evaluateCoverage(spec.coverage, parseCoverage(spec.coverage.format, content, what));
    if (spec.sarif) return evaluateSarif(spec.sarif, parseSarif(content, what));
    return evaluateNpmAudit(spec.npmAudit!, parseNpmAudit(content, what));
  } catch (e) {
    // BadArtifact and anything unexpected alike: failing closed is the only safe verdict.
    return bad(errorMessage(e));
  }
}
