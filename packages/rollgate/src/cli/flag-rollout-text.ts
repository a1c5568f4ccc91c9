/** How flag rollouts and scheduled changes read in the terminal (status, flags get, flags rollout status). */
import type { FlagScheduleRecord, RolloutView } from './client-flag-rollouts.js';
import { formatDuration, formatTime } from './format.js';
import { oneLine } from './terminal-text.js';

const what = (r: Pick<RolloutView, 'variant'>) => (r.variant === null ? '' : ` (variant ${r.variant})`);

/** "flag checkout rollout fr_…: running, step 2 of 5 at 5%, next 25% at … (in 9m50s); started by user:ana" */
export function rolloutLine(r: RolloutView, now = Date.now()): string {
  const at = `step ${r.applied} of ${r.steps.length} at ${r.percent ?? 0}%`;
  const head = `flag ${r.flag}${what(r)} rollout ${r.id} in ${r.env}`;
  let tail: string;
  if (r.status === 'running') tail = r.nextStepAt ? `running, ${at}, next ${r.nextPercent}% at ${formatTime(r.nextStepAt)} (in ${formatDuration(Math.max(0, Date.parse(r.nextStepAt) - now))})` : `running, ${at}`;
  else if (r.status === 'paused') tail = `paused at ${at}${r.remainingMs !== null ? `, ${formatDuration(r.remainingMs)} left before ${r.nextPercent}%` : ''}: ${oneLine(r.reason ?? 'paused')}`;
  else tail = `${r.status} at ${at}${r.reason ? `: ${oneLine(r.reason)}` : ''}${r.finishedAt ? ` (${formatTime(r.finishedAt)})` : ''}`;
  return `${head}: ${tail}; steps ${r.steps.join(',')}% every ${formatDuration(r.everyMs)}; started by ${r.startedBy}${guardText(r)}`;
}

/** "; guarded (on vs off, router): pass after 40 looks, 812 vs 7,301 requests, 0 vs 3 errors" */
function guardText(r: RolloutView): string {
  const g = r.guard;
  if (!g) return '';
  const head = `; guarded (${g.treatment.join('/')} vs ${g.control.join('/')}${g.look?.evidence ? `, ${g.look.evidence}` : ''})`;
  if (g.killedAt) return `${head}: killed ${formatTime(g.killedAt)}`;
  const l = g.look;
  if (!l) return `${head}: no look yet`;
  return `${head}: ${l.verdict} after ${l.looks} looks, ${l.treatmentRequests} vs ${l.controlRequests} requests, ${l.treatmentErrors} vs ${l.controlErrors} failed`;
}

export function scheduleLine(s: FlagScheduleRecord): string {
  const change = s.action === 'percent' ? `set to ${s.percent}%` : s.action;
  const state = s.status === 'pending' ? 'pending' : s.status === 'applied' ? `applied ${formatTime(s.appliedAt)}` : s.status === 'cancelled' ? `cancelled by ${s.cancelledBy ?? '-'}` : 'failed';
  return `${s.id}  ${formatTime(s.at)}  ${s.flag} ${change}  ${state}${s.message ? ` (${oneLine(s.message)})` : ''}  by ${s.createdBy}`;
}
