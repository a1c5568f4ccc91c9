/** The coverage gate: line (and optionally branch) coverage against minimums, naming the least-covered files. */
import { parseCobertura } from './cobertura.js';
import type { CoverageReport } from './coverage-types.js';
import { parseLcov } from './lcov.js';
import type { CoverageGate } from './spec.js';
import { BadArtifact, MAX_LISTED, pct, verdict, type GateFailure, type GateResult } from './types.js';

export function parseCoverage(format: CoverageGate['format'], content: string, what: string): CoverageReport {
  return format === 'lcov' ? parseLcov(content, what) : parseCobertura(content, what);
}

/** Percent covered; no lines at all counts as fully covered (there is nothing to miss). */
function percent(found: number, hit: number, rate: number | undefined): number {
  if (rate !== undefined) return rate;
  return found === 0 ? 100 : (hit / found) * 100;
}

export function evaluateCoverage(gate: CoverageGate, report: CoverageReport): GateResult {
  const lines = percent(report.linesFound, report.linesHit, report.lineRate);
  const hasBranches = report.branchRate !== undefined || report.branchesFound !== undefined;
  const branches = hasBranches ? percent(report.branchesFound ?? 0, report.branchesHit ?? 0, report.branchRate) : undefined;
  const metrics: Record<string, number> = { lineCoverage: lines, files: report.files.length };
  if (report.lineRate === undefined) Object.assign(metrics, { linesFound: report.linesFound, linesHit: report.linesHit });
  if (branches !== undefined) metrics.branchCoverage = branches;
  if (report.branchesFound !== undefined) Object.assign(metrics, { branchesFound: report.branchesFound, branchesHit: report.branchesHit ?? 0 });

  const failures: GateFailure[] = [];
  if (lines < gate.minLineCoverage) {
    const counts = report.lineRate === undefined ? ` (${report.linesHit}/${report.linesFound} lines)` : '';
    failures.push({ condition: `minLineCoverage: ${gate.minLineCoverage}`, detail: `line coverage ${pct(lines)}${counts} is below ${gate.minLineCoverage}%`, where: gate.path });
    const worst = [...report.files].filter((f) => f.percent < gate.minLineCoverage).sort((a, b) => a.percent - b.percent || a.file.localeCompare(b.file));
    for (const f of worst.slice(0, MAX_LISTED)) {
      const missed = f.linesMissed === undefined ? '' : `, ${f.linesMissed} lines not covered`;
      failures.push({ condition: `minLineCoverage: ${gate.minLineCoverage}`, detail: `${f.file}: ${pct(f.percent)} of lines covered${missed}`, where: f.file });
    }
  }
  if (gate.minBranchCoverage !== undefined) {
    if (branches === undefined) {
      // A gate asked for branch coverage and the tool did not record any: that is a setup problem, not a pass.
      throw new BadArtifact(`${gate.path} has no branch data (no BRF/BRH or branch-rate) but the gate sets minBranchCoverage; enable branch coverage in the tool or drop the condition`);
    }
    if (branches < gate.minBranchCoverage) {
      const counts = report.branchesFound !== undefined && report.branchRate === undefined ? ` (${report.branchesHit ?? 0}/${report.branchesFound} branches)` : '';
      failures.push({ condition: `minBranchCoverage: ${gate.minBranchCoverage}`, detail: `branch coverage ${pct(branches)}${counts} is below ${gate.minBranchCoverage}%`, where: gate.path });
    }
  }
  const figures = `lines ${pct(lines)}${branches === undefined ? '' : `, branches ${pct(branches)}`}`;
  return verdict(failures, `coverage ${gate.path}: passed (${figures})`, `coverage ${gate.path}: failed (${figures})`, metrics);
}
