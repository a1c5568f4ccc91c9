/** What every gate evaluator returns: a verdict that says which condition failed and where. */

export interface GateFailure {
  /** The condition as the user wrote it, e.g. `minLineCoverage: 80` or `input` for a bad artifact. */
  condition: string;
  /** What was found, e.g. `line coverage 72.4% is below 80%`. */
  detail: string;
  /** File (and line) or test the failure points at, when there is one. */
  where?: string;
}

export interface GateResult {
  passed: boolean;
  /** One line for logs and notifications. */
  summary: string;
  failures: GateFailure[];
  /** Figures read from the artifact (totals, rates, counts by severity). */
  metrics: Record<string, number>;
}

/**
 * Reads an artifact by its workspace-relative path (already checked by `checkArtifactPath`).
 * Rejects (e.g. ENOENT) when the file cannot be read; evaluateGate turns that into a failed gate.
 */
export type ReadArtifact = (relativePath: string) => Promise<string>;

/** How many failing items a gate lists; the counts in `metrics` cover the rest. */
export const MAX_LISTED = 5;

/** An artifact that cannot be trusted: evaluateGate turns it into a failed gate, never a pass. */
export class BadArtifact extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadArtifact';
  }
}

export function fail(summary: string, failures: GateFailure[], metrics: Record<string, number> = {}): GateResult {
  return { passed: false, summary, failures, metrics };
}

export function verdict(failures: GateFailure[], passSummary: string, failSummary: string, metrics: Record<string, number>): GateResult {
  return failures.length === 0
    ? { passed: true, summary: passSummary, failures, metrics }
    : { passed: false, summary: failSummary, failures, metrics };
}

/** 0.123456 -> "12.35%" style rounding for messages only; metrics keep full precision. */
export function pct(value: number): string {
  return `${Math.round(value * 100) / 100}%`;
}
