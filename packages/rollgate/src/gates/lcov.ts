/**
 * lcov tracefiles (`SF:` ... `end_of_record`), as written by c8, nyc/istanbul, Vitest, Jest, lcov
 * and coverage.py. Totals are the sums of each record's LF/LH and BRF/BRH; a record without LF/LH
 * is counted from its DA: lines.
 */
import type { CoverageReport, FileCoverage } from './coverage-types.js';
import { BadArtifact } from './types.js';

export function parseLcov(content: string, what: string): CoverageReport {
  const report: CoverageReport = { linesFound: 0, linesHit: 0, files: [] };
  let current: { file: string; lf?: number; lh?: number; brf?: number; brh?: number; da: number; daHit: number } | undefined;
  let lineNo = 0;
  for (const raw of content.split(/\r?\n/)) {
    lineNo++;
    const line = raw.trim();
    if (line === '') continue;
    const bad = (why: string): never => {
      throw new BadArtifact(`${what} line ${lineNo}: ${why} ("${line.slice(0, 80)}"); is it an lcov tracefile?`);
    };
    if (line === 'end_of_record') {
      if (!current) bad('end_of_record without a preceding SF: line');
      const c = current!;
      const found = c.lf ?? c.da;
      const hit = c.lh ?? c.daHit;
      if (hit > found) bad(`${c.file} has more lines hit (${hit}) than found (${found})`);
      report.linesFound += found;
      report.linesHit += hit;
      if (c.brf !== undefined || c.brh !== undefined) {
        const brf = c.brf ?? 0;
        const brh = c.brh ?? 0;
        if (brh > brf) bad(`${c.file} has more branches hit (${brh}) than found (${brf})`);
        report.branchesFound = (report.branchesFound ?? 0) + brf;
        report.branchesHit = (report.branchesHit ?? 0) + brh;
      }
      report.files.push({ file: c.file, percent: found === 0 ? 100 : (hit / found) * 100, linesMissed: found - hit } satisfies FileCoverage);
      current = undefined;
      continue;
    }
    const m = /^([A-Z]+):(.*)$/.exec(line);
    if (!m) bad('not an lcov line');
    const [, key, value] = m as unknown as [string, string, string];
    const count = (): number => {
      const v = Number(value);
      if (value.trim() === '' || !Number.isInteger(v) || v < 0) bad(`${key} expects a count`);
      return v;
    };
    if (key === 'SF') {
      if (current) bad(`SF: for a new file before end_of_record of ${current.file}`);
      if (value === '') bad('SF: without a file name');
      current = { file: value, da: 0, daHit: 0 };
      continue;
    }
    if (key === 'TN' || key === 'VER') continue;
    if (!current) bad(`${key}: outside a record (expected SF: first)`);
    const c = current!;
    switch (key) {
      case 'LF': c.lf = count(); break;
      case 'LH': c.lh = count(); break;
      case 'BRF': c.brf = count(); break;
      case 'BRH': c.brh = count(); break;
      case 'DA': {
        const parts = value.split(',');
        const hits = Number(parts[1]);
        if (parts.length < 2 || !Number.isFinite(hits)) bad('DA: expects line,hits');
        c.da++;
        if (hits > 0) c.daHit++;
        break;
      }
      default: break; // FN, FNDA, FNF, FNH, BRDA, and extensions: not needed for line/branch totals.
    }
  }
  if (current) throw new BadArtifact(`${what} ends inside the record for ${current.file} (no end_of_record): the file looks truncated`);
  if (report.files.length === 0) throw new BadArtifact(`${what} has no coverage records (no SF: ... end_of_record); is it an lcov tracefile?`);
  return report;
}
