/**
 * The `gate` stage's conditions, as written in rollgate.yaml. Exactly one format key per gate:
 *
 *   gate: { junit: { path: reports/junit.xml, minPassRate: 0.95 } }
 *   gate: { coverage: { path: coverage/lcov.info, format: lcov, minLineCoverage: 80 } }
 *   gate: { sarif: { path: eslint.sarif, failOn: error } }
 *   gate: { npmAudit: { path: audit.json, failOn: high } }
 */
import { z } from 'zod';
import { artifactPathProblem } from './paths.js';

const ArtifactPath = z
  .string()
  .superRefine((p, ctx) => {
    const problem = artifactPathProblem(p);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe("Path of the artifact, relative to the run's workspace");

export const JunitGate = z
  .object({
    path: ArtifactPath,
    noFailures: z.boolean().optional().describe('Fail on any failed or errored test case (the default when minPassRate is not set)'),
    minPassRate: z.number().min(0).max(1).optional().describe('Fraction of executed (not skipped) test cases that must pass, e.g. 0.95'),
    allowEmpty: z.boolean().default(false).describe('Pass a report with no executed tests (by default zero tests fails the gate)'),
  })
  .strict();
export type JunitGate = z.infer<typeof JunitGate>;

export const CoverageGate = z
  .object({
    path: ArtifactPath,
    format: z.enum(['lcov', 'cobertura']),
    minLineCoverage: z.number().min(0).max(100).describe('Percent of lines covered, e.g. 80'),
    minBranchCoverage: z.number().min(0).max(100).optional().describe('Percent of branches covered'),
  })
  .strict();
export type CoverageGate = z.infer<typeof CoverageGate>;

export const SARIF_LEVELS = ['note', 'warning', 'error'] as const;
export type SarifLevel = (typeof SARIF_LEVELS)[number];

export const SarifGate = z
  .object({
    path: ArtifactPath,
    failOn: z.enum(SARIF_LEVELS).describe('Fail on any result at or above this level (security-severity counts too, see gates/sarif.ts)'),
  })
  .strict();
export type SarifGate = z.infer<typeof SarifGate>;

export const AUDIT_SEVERITIES = ['info', 'low', 'moderate', 'high', 'critical'] as const;
export type AuditSeverity = (typeof AUDIT_SEVERITIES)[number];

export const NpmAuditGate = z
  .object({
    path: ArtifactPath,
    failOn: z.enum(['low', 'moderate', 'high', 'critical']).describe('Fail on any vulnerable package at or above this severity'),
  })
  .strict();
export type NpmAuditGate = z.infer<typeof NpmAuditGate>;

const FORMATS = ['junit', 'coverage', 'sarif', 'npmAudit'] as const;

export const GateSpec = z
  .object({
    junit: JunitGate.optional(),
    coverage: CoverageGate.optional(),
    sarif: SarifGate.optional(),
    npmAudit: NpmAuditGate.optional(),
  })
  .strict()
  .superRefine((g, ctx) => {
    const present = FORMATS.filter((k) => g[k] !== undefined);
    if (present.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `a gate checks exactly one artifact: give one of junit, coverage, sarif or npmAudit (has ${present.join(', ') || 'none'})` });
    }
    if (g.junit && g.junit.noFailures === false && g.junit.minPassRate === undefined) {
      ctx.addIssue({ code: 'custom', path: ['junit'], message: 'noFailures: false needs minPassRate, otherwise the gate checks nothing' });
    }
  });
export type GateSpec = z.infer<typeof GateSpec>;
