/**
 * `npm audit --json` from npm 7 and later (auditReportVersion 2): a `vulnerabilities` map keyed by
 * package name, each with a `severity` and `via` (advisories, or names of vulnerable dependencies),
 * and `metadata.vulnerabilities` counts. The gate fails if either says there is a package at or
 * above `failOn`, so a report whose map and counts disagree cannot pass by accident.
 * npm's own error output (`{"error": {...}}`, e.g. when the advisory endpoint is unreachable) and
 * the npm 6 format fail the gate with the reason.
 */
import { z } from 'zod';
import { AUDIT_SEVERITIES, type AuditSeverity, type NpmAuditGate } from './spec.js';
import { BadArtifact, MAX_LISTED, verdict, type GateFailure, type GateResult } from './types.js';

const Severity = z.enum(AUDIT_SEVERITIES);
const Advisory = z.object({ title: z.string().optional(), url: z.string().optional(), severity: Severity.optional() });

const Vulnerability = z.object({
  name: z.string().optional(),
  severity: Severity,
  isDirect: z.boolean().optional(),
  via: z.array(z.union([z.string(), Advisory])).default([]),
  range: z.string().optional(),
  fixAvailable: z.union([z.boolean(), z.object({ name: z.string(), version: z.string(), isSemVerMajor: z.boolean().optional() })]).optional(),
});

const Counts = z.object(Object.fromEntries(AUDIT_SEVERITIES.map((s) => [s, z.number().int().min(0)])) as Record<AuditSeverity, z.ZodNumber>);

const AuditReport = z.object({
  auditReportVersion: z.literal(2, { message: 'expected auditReportVersion 2 (npm 7 or later)' }),
  vulnerabilities: z.record(z.string(), Vulnerability),
  metadata: z.object({ vulnerabilities: Counts }),
});

export interface AuditPackage {
  name: string;
  severity: AuditSeverity;
  direct: boolean;
  /** Advisory titles, or the vulnerable dependencies it pulls in. */
  via: string[];
  fix?: string;
}

export interface AuditReport {
  packages: AuditPackage[];
  counts: Record<AuditSeverity, number>;
}

const RANK: Record<AuditSeverity, number> = { info: 0, low: 1, moderate: 2, high: 3, critical: 4 };

export function parseNpmAudit(content: string, what: string): AuditReport {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (e) {
    throw new BadArtifact(`${what} is not valid JSON (${(e as Error).message}); the file may be truncated`);
  }
  const npmError = z.object({ error: z.object({ summary: z.string().optional(), detail: z.string().optional() }), message: z.string().optional() }).safeParse(json);
  if (npmError.success && !(typeof json === 'object' && json !== null && 'vulnerabilities' in json)) {
    const e = npmError.data;
    const why = [e.message, e.error.summary, e.error.detail].filter((x) => x).join(': ') || 'no details';
    throw new BadArtifact(`${what} is npm's error output, not an audit report: npm audit failed (${why}); check registry access and the lockfile`);
  }
  if (typeof json === 'object' && json !== null && 'advisories' in json && !('auditReportVersion' in json)) {
    throw new BadArtifact(`${what} is in the npm 6 audit format; run npm audit --json with npm 7 or later`);
  }
  const parsed = AuditReport.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BadArtifact(`${what} is not an npm audit --json report: at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const packages = Object.entries(parsed.data.vulnerabilities).map(([key, v]): AuditPackage => {
    const p: AuditPackage = {
      name: v.name ?? key,
      severity: v.severity,
      direct: v.isDirect ?? false,
      via: v.via.map((x) => (typeof x === 'string' ? `via ${x}` : (x.title ?? x.url ?? 'advisory'))),
    };
    if (typeof v.fixAvailable === 'object') p.fix = `${v.fixAvailable.name}@${v.fixAvailable.version}${v.fixAvailable.isSemVerMajor ? ' (major)' : ''}`;
    else if (v.fixAvailable === true) p.fix = 'npm audit fix';
    return p;
  });
  return { packages, counts: parsed.data.metadata.vulnerabilities };
}

export function evaluateNpmAudit(gate: NpmAuditGate, report: AuditReport): GateResult {
  const threshold = RANK[gate.failOn];
  const metrics: Record<string, number> = { ...report.counts, packages: report.packages.length };
  const hits = report.packages.filter((p) => RANK[p.severity] >= threshold).sort((a, b) => RANK[b.severity] - RANK[a.severity] || a.name.localeCompare(b.name));
  const counted = AUDIT_SEVERITIES.filter((s) => RANK[s] >= threshold).reduce((n, s) => n + report.counts[s], 0);
  const condition = `failOn: ${gate.failOn}`;
  const failures: GateFailure[] = [];
  if (hits.length > 0 || counted > 0) {
    const names = hits.map((p) => p.name);
    const listed = names.slice(0, MAX_LISTED * 2).join(', ') + (names.length > MAX_LISTED * 2 ? `, and ${names.length - MAX_LISTED * 2} more` : '');
    failures.push({
      condition,
      detail: hits.length > 0
        ? `${hits.length} vulnerable package(s) at or above ${gate.failOn}: ${listed}`
        : `metadata counts ${counted} vulnerabilities at or above ${gate.failOn} but the report names no package`,
      where: gate.path,
    });
    for (const p of hits.slice(0, MAX_LISTED)) {
      const fix = p.fix ? `; fix: ${p.fix}` : '; no fix available';
      failures.push({ condition, detail: `${p.name} (${p.severity}, ${p.direct ? 'direct' : 'transitive'}): ${p.via.slice(0, 3).join('; ')}${fix}`, where: p.name });
    }
  }
  const counts = AUDIT_SEVERITIES.slice().reverse().map((s) => `${report.counts[s]} ${s}`).join(', ');
  return verdict(failures, `npm audit ${gate.path}: passed (${counts})`, `npm audit ${gate.path}: failed (${counts})`, metrics);
}
