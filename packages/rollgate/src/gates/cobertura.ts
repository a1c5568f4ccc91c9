/**
 * Cobertura XML, as written by istanbul/Vitest/Jest, coverage.py, JaCoCo converters and gcovr:
 * `<coverage line-rate= branch-rate= [lines-valid= lines-covered= branches-valid= branches-covered=]>`.
 * Counts are preferred over rates (rates are rounded to 4 digits by some tools).
 */
import type { CoverageReport } from './coverage-types.js';
import { BadArtifact } from './types.js';
import { attr, children, parseXml, rootName, type XmlNode } from './xml.js';

export function parseCobertura(xml: string, what: string): CoverageReport {
  const doc = parseXml(xml, what, ['package', 'class']);
  const root = rootName(doc);
  const cov = root === 'coverage' ? children(doc, 'coverage')[0] : undefined;
  if (!cov) throw new BadArtifact(`${what} is not a Cobertura report: expected a <coverage> root element, found <${root ?? 'nothing'}>`);
  const num = (node: XmlNode, name: string, where: string, max?: number): number | undefined => {
    const raw = attr(node, name);
    if (raw === undefined || raw === '') return undefined;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0 || (max !== undefined && v > max)) {
      throw new BadArtifact(`${what}: ${where} attribute ${name}="${raw}" is not ${max === 1 ? 'a rate between 0 and 1' : 'a non-negative number'}`);
    }
    return v;
  };
  const report: CoverageReport = { linesFound: 0, linesHit: 0, files: [] };
  const lineRate = num(cov, 'line-rate', '<coverage>', 1);
  const linesValid = num(cov, 'lines-valid', '<coverage>');
  const linesCovered = num(cov, 'lines-covered', '<coverage>');
  if (linesValid !== undefined && linesCovered !== undefined) {
    if (linesCovered > linesValid) throw new BadArtifact(`${what}: lines-covered (${linesCovered}) is above lines-valid (${linesValid})`);
    report.linesFound = linesValid;
    report.linesHit = linesCovered;
  } else if (lineRate !== undefined) {
    report.lineRate = lineRate * 100;
  } else {
    throw new BadArtifact(`${what}: <coverage> has neither line-rate nor lines-valid/lines-covered`);
  }
  const branchesValid = num(cov, 'branches-valid', '<coverage>');
  const branchesCovered = num(cov, 'branches-covered', '<coverage>');
  const branchRate = num(cov, 'branch-rate', '<coverage>', 1);
  if (branchesValid !== undefined && branchesCovered !== undefined) {
    if (branchesCovered > branchesValid) throw new BadArtifact(`${what}: branches-covered (${branchesCovered}) is above branches-valid (${branchesValid})`);
    report.branchesFound = branchesValid;
    report.branchesHit = branchesCovered;
  } else if (branchRate !== undefined) {
    report.branchRate = branchRate * 100;
  }
  const packages = children(cov, 'packages').flatMap((p) => children(p, 'package'));
  for (const pkg of packages) {
    for (const cls of children(pkg, 'classes').flatMap((c) => children(c, 'class'))) {
      const file = attr(cls, 'filename') ?? attr(cls, 'name');
      const rate = num(cls, 'line-rate', `class ${file ?? ''}`, 1);
      const lines = children(cls, 'lines').flatMap((l) => children(l, 'line'));
      if (file === undefined) continue;
      if (lines.length > 0) {
        const hit = lines.filter((l) => Number(attr(l, 'hits')) > 0).length;
        report.files.push({ file, percent: (hit / lines.length) * 100, linesMissed: lines.length - hit });
      } else if (rate !== undefined) {
        report.files.push({ file, percent: rate * 100 });
      }
    }
  }
  return report;
}
