/**
 * Combines metric verdicts into the analysis verdict (Argo-like):
 * - any metric failed -> `fail` (final);
 * - else any metric inconclusive for good (past its limit) -> `inconclusive` (final; the
 *   spec says whether that pauses or fails the rollout);
 * - else, while the analysis runs: `pass` if every metric passes so far, otherwise
 *   `inconclusive` (not final: keep watching);
 * - when the analysis window is over (`complete`): `pass` only if every metric passes; a metric
 *   still without enough data makes it `inconclusive` (final), never a pass.
 * False alarms: the analysis fails falsely with probability at most the sum of the metrics'
 * alphas (union bound), whatever their dependence.
 */
import type { MetricVerdict, Verdict } from './types.js';

export interface AnalysisVerdict {
  verdict: Verdict;
  final: boolean;
  reason: string;
  metrics: MetricVerdict[];
}

export function combine(metrics: readonly MetricVerdict[], opts: { complete?: boolean } = {}): AnalysisVerdict {
  const list = [...metrics];
  const failed = list.filter((m) => m.verdict === 'fail');
  if (failed.length > 0) return { verdict: 'fail', final: true, reason: failed.map((m) => `${m.metric}: ${m.reason}`).join('; '), metrics: list };
  const stuck = list.filter((m) => m.verdict === 'inconclusive' && m.final);
  if (stuck.length > 0) return { verdict: 'inconclusive', final: true, reason: stuck.map((m) => `${m.metric}: ${m.reason}`).join('; '), metrics: list };
  const waiting = list.filter((m) => m.verdict !== 'pass');
  if (waiting.length > 0) {
    const reason = waiting.map((m) => `${m.metric}: ${m.reason}`).join('; ');
    return opts.complete ? { verdict: 'inconclusive', final: true, reason: `analysis ended without enough data: ${reason}`, metrics: list } : { verdict: 'inconclusive', final: false, reason, metrics: list };
  }
  const reason = list.length === 0 ? 'no metrics to check' : list.map((m) => `${m.metric}: ${m.reason}`).join('; ');
  return { verdict: 'pass', final: opts.complete === true, reason, metrics: list };
}
