/** Quality gates for pipeline `gate` stages: JUnit, coverage (lcov, Cobertura), SARIF, npm audit. */
export { evaluateGate } from './evaluate.js';
export { GateSpec, JunitGate, CoverageGate, SarifGate, NpmAuditGate, SARIF_LEVELS, AUDIT_SEVERITIES } from './spec.js';
export type { SarifLevel, AuditSeverity } from './spec.js';
export type { GateResult, GateFailure, ReadArtifact } from './types.js';
export { artifactPathProblem, checkArtifactPath, workspaceReader, MAX_ARTIFACT_BYTES } from './paths.js';
export { parseJunit, evaluateJunit, type JunitReport, type JunitCase } from './junit.js';
export { parseLcov } from './lcov.js';
export { parseCobertura } from './cobertura.js';
export { parseCoverage, evaluateCoverage } from './coverage.js';
export type { CoverageReport, FileCoverage } from './coverage-types.js';
export { parseSarif, evaluateSarif, levelFromSecuritySeverity, type SarifReport, type SarifFinding } from './sarif.js';
export { parseNpmAudit, evaluateNpmAudit, type AuditReport, type AuditPackage } from './npm-audit.js';
