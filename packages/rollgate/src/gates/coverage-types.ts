/** Coverage totals read from lcov or Cobertura, with per-file figures to say where coverage is low. */
export interface FileCoverage {
  file: string;
  /** Line coverage of this file, in percent. */
  percent: number;
  /** Lines not covered, when the format lists lines. */
  linesMissed?: number;
}

export interface CoverageReport {
  linesFound: number;
  linesHit: number;
  /** undefined when the file carries no branch data at all (not the same as 0 branches). */
  branchesFound?: number;
  branchesHit?: number;
  /** Rates as percentages, when the format states them instead of counts (Cobertura without counts). */
  lineRate?: number;
  branchRate?: number;
  files: FileCoverage[];
}
