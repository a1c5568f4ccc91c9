/**
 * What `rollgate deployment show ID` prints: the step timeline (start, end, duration), the
 * analysis verdict with its evidence, who did what, and the outcome. Pure: built from the
 * deployment view and, when the caller may read it, the audit trail.
 */
import { isActiveStatus, type DeploymentEventRecord } from '../core/domain.js';
import type { DeploymentView } from '../api/contract.js';
import type { AuditEntry } from '../engine/audit.js';
import { analysisLines, deploymentDuration, formatDuration, formatTime, outcome, table } from './format.js';
import { withoutTook } from './line-text.js';
import { oneLine } from './terminal-text.js';

export interface StepRow {
  step: string;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
}

export interface ActionRow {
  at: string;
  actor: string;
  action: string;
  detail: string;
  /** Where the row comes from: the deployment's own timeline, or the audit trail. */
  from: 'timeline' | 'audit';
}

export interface DeploymentReport {
  deployment: DeploymentView;
  steps: StepRow[];
  actions: ActionRow[];
  /** null when the audit trail could not be read (why in auditNote). */
  audit: AuditEntry[] | null;
  auditNote: string | null;
  outcome: { status: string; finishedAt: string | null; message: string };
}

/** Timeline kinds recorded by a user's command (engine/deployments.ts writes "… by ACTOR"). */
const USER_KINDS = new Set(['created', 'promote', 'pause', 'resume', 'abort', 'fail']);

/** Steps from the timeline: each `step` event ends one, the next starts where it ended. */
export function stepRows(view: DeploymentView, now = Date.now()): StepRow[] {
  const rows: StepRow[] = [];
  const started = view.timeline.find((e) => e.kind === 'started');
  let from: string | null = started?.at ?? view.startedAt;
  for (const ev of view.timeline) {
    if (ev.kind !== 'step') continue;
    rows.push(row(ev.message.replace(/^completed /, ''), from, ev.at));
    from = ev.at;
  }
  if (from === null) return rows;
  // What came after the last completed step: the step in progress, or the end.
  if (isActiveStatus(view.status)) rows.push({ ...row(view.step ?? 'current step', from, null), durationMs: now - Date.parse(from) });
  else if (view.finishedAt) rows.push(row(view.status === 'succeeded' ? (view.step ?? 'last step (full traffic)') : `reverting (${outcome(view.status)})`, revertStart(view.timeline) ?? from, view.finishedAt));
  return rows;
}

function revertStart(timeline: DeploymentEventRecord[]): string | null {
  return timeline.find((e) => e.kind === 'reverting')?.at ?? null;
}

function row(step: string, start: string | null, end: string | null): StepRow {
  return { step, startedAt: start, endedAt: end, durationMs: start && end ? Date.parse(end) - Date.parse(start) : null };
}

/** Who did what: the user commands of the timeline, and the audit entries naming this deployment. */
export function actionRows(view: DeploymentView, audit: AuditEntry[] | null): ActionRow[] {
  const rows: ActionRow[] = [];
  if (audit && audit.length > 0) {
    for (const e of audit) rows.push({ at: e.at, actor: e.actor, action: e.action, detail: `${e.outcome}${e.source.address ? ` from ${e.source.address}` : ''}`, from: 'audit' });
  } else {
    for (const ev of view.timeline) {
      if (!USER_KINDS.has(ev.kind)) continue;
      // Actors look like `user:ann`: a colon ends the name only when a space follows (`failed by user:ann: why`).
      const m = / by (\S+?)(?=: |$| \()/.exec(ev.message);
      rows.push({ at: ev.at, actor: m?.[1] ?? (ev.kind === 'created' ? view.requestedBy : '?'), action: ev.kind, detail: ev.message, from: 'timeline' });
    }
  }
  return rows.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

/** Audit entries about this deployment: its creation (the answer names its id) and every command on it. */
export function auditAbout(id: string, entries: AuditEntry[]): AuditEntry[] {
  return entries.filter((e) => e.target.includes(id) || JSON.stringify(e.after ?? null).includes(`"${id}"`)).sort((a, b) => a.seq - b.seq);
}

export function buildReport(view: DeploymentView, audit: AuditEntry[] | null, auditNote: string | null, now = Date.now()): DeploymentReport {
  return {
    deployment: view,
    steps: stepRows(view, now),
    actions: actionRows(view, audit),
    audit,
    auditNote,
    outcome: { status: view.status, finishedAt: view.finishedAt, message: view.message },
  };
}

const clock = (iso: string | null) => (iso ? formatTime(iso).slice(11) : '-');

export function reportText(r: DeploymentReport, now = Date.now()): string {
  const v = r.deployment;
  const strategy = Object.keys(v.strategy)[0] ?? 'unknown';
  const lines = [
    `deployment ${v.id}`,
    `  ${v.kind === 'rollback' ? 'rollback' : 'deploy'} of ${v.app} ${v.version} to ${v.env} (${strategy})${v.previousVersion ? `, replacing ${v.previousVersion}` : ''}`,
    `  requested by ${v.requestedBy} at ${formatTime(v.createdAt)}`,
    `  outcome: ${outcome(v.status)}${isActiveStatus(v.status) ? ' (in progress)' : ''} after ${deploymentDuration(v, now)}${v.message ? ` — ${withoutTook(v.message)}` : ''}`,
    '',
    'steps:',
  ];
  if (r.steps.length === 0) lines.push('  (not started)');
  else lines.push(indent(table(['step', 'start', 'end', 'duration'], r.steps.map((s) => [s.step, clock(s.startedAt), s.endedAt ? clock(s.endedAt) : 'running', s.durationMs === null ? '-' : formatDuration(s.durationMs)]))));
  lines.push('', 'analysis:');
  const judged = analysisLines(v.state.analysis);
  const notes = v.timeline.filter((e) => /analysis|not judged|no traffic/i.test(e.message)).map((e) => `  ${clock(e.at)} ${oneLine(e.message)}`);
  if (judged.length === 0 && notes.length === 0) lines.push(v.state.skipAnalysis ? '  skipped (promoted with --skip-analysis)' : '  none recorded');
  lines.push(...judged.map((l) => `  ${l}`), ...notes);
  if (v.state.skipAnalysis && judged.length > 0) lines.push('  (judging stopped: promoted with --skip-analysis)');
  lines.push('', 'who did what:');
  if (r.actions.length === 0) lines.push('  -');
  else lines.push(indent(table(['time', 'actor', 'action', 'detail'], r.actions.map((a) => [formatTime(a.at), a.actor, a.action, a.detail]))));
  if (r.auditNote) lines.push(`  (${r.auditNote})`);
  lines.push('', 'events:');
  for (const ev of v.timeline) lines.push(`  ${formatTime(ev.at)} ${oneLine(ev.kind).padEnd(12)} ${oneLine(ev.message)}`);
  return lines.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
