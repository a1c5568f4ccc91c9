/**
 * The idle-environment rule, pure. An analysis needs traffic; an idle staging has none, and
 * waiting for evidence that never comes blocked every rollout there. The rule users can predict:
 *
 * - When the new version has had fewer than IDLE_MIN_REQUESTS requests `noTrafficAfter` after
 *   the analysis began, and nothing but the router's own traffic-based metrics stands in the
 *   way (no failure, no external metric waiting for a measurement), then:
 *   - outside production (default bound 2m), the step proceeds, recorded as
 *     "not judged: no traffic";
 *   - in production (no bound unless `noTrafficAfter` is set), the rollout holds (the last
 *     step waits for a pass, paused) and says why in full.
 * Until then the analysis says what it waits for, and when it will go on without traffic.
 * - `noTrafficAfter: never` always holds.
 * Any failing metric fails as before; traffic that arrives later is judged as before.
 */
import type { MetricVerdict, Verdict } from '../core/analysis/index.js';
import { formatDuration, parseDuration } from '../core/duration.js';

/** Below this many requests to the new version there is nothing to judge (the router judges' minRequests). */
export const IDLE_MIN_REQUESTS = 50;
/** Default bound outside production. */
export const DEFAULT_NO_TRAFFIC_AFTER = '2m';

export interface IdleInput {
  elapsedMs: number;
  /** Requests to the new version since the analysis began. */
  canaryRequests: number;
  version: string;
  production: boolean;
  noTrafficAfter: string | undefined;
  verdict: Verdict;
  metrics: readonly MetricVerdict[];
  /** Names of the router's traffic-based metrics (error rate, latency, request rate). */
  trafficMetrics: ReadonlySet<string>;
}

export type IdleDecision =
  | { kind: 'judge' }
  /** Bound reached: the step proceeds, recorded as not judged. */
  | { kind: 'proceed'; reason: string }
  /** Too little traffic, bound not reached yet (or none): keep waiting, saying why. */
  | { kind: 'wait'; reason: string };

export function idleDecision(i: IdleInput): IdleDecision {
  if (i.verdict !== 'inconclusive' || i.canaryRequests >= IDLE_MIN_REQUESTS) return { kind: 'judge' };
  // Only a lack of router traffic may be waived: an external metric not measured yet, or any final verdict, never is.
  if (i.metrics.some((m) => m.verdict !== 'pass' && (m.final || !i.trafficMetrics.has(m.metric)))) return { kind: 'judge' };
  const bound = i.noTrafficAfter === 'never' ? null : (i.noTrafficAfter ?? (i.production ? null : DEFAULT_NO_TRAFFIC_AFTER));
  const what = `${i.canaryRequests === 0 ? 'no traffic' : `too little traffic (${i.canaryRequests} requests, ${IDLE_MIN_REQUESTS} needed)`} to ${i.version} in ${formatDuration(i.elapsedMs)}`;
  if (bound === null) {
    const why = i.production && i.noTrafficAfter === undefined ? 'in production the rollout waits for traffic to judge, with no time limit' : 'noTrafficAfter is never: the rollout waits for traffic to judge';
    return { kind: 'wait', reason: `not judged yet: ${what}; ${why}; send traffic, or \`rollgate promote --skip-analysis\` to go on without it, or set analysis.noTrafficAfter` };
  }
  const boundMs = parseDuration(bound);
  const where = i.production ? 'noTrafficAfter is set' : 'outside production';
  if (i.elapsedMs >= boundMs) return { kind: 'proceed', reason: `not judged: ${what}; ${where}, the step proceeds after noTrafficAfter ${bound}` };
  return { kind: 'wait', reason: `not judged yet: ${what}; ${where}, without traffic the step proceeds after noTrafficAfter ${bound} (in ${formatDuration(boundMs - i.elapsedMs)})` };
}
