/**
 * How a followed deployment is shown: a live view redrawn in place on a terminal, or one line
 * per timeline event otherwise (logs, CI).
 */
import type { DeploymentEventRecord } from '../core/domain.js';
import type { DeploymentView, ServiceStatus } from '../api/contract.js';
import { deploymentDuration, formatInstances, formatTime, outcome, trafficShare, analysisLines } from './format.js';
import { oneLine } from './terminal-text.js';
import { besidesStatus } from './line-text.js';

const ESC = '\x1b[';

/** Redraws a block of lines in place (ANSI cursor movement; no library needed). */
export class LiveBlock {
  private drawn = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}

  render(lines: string[]): void {
    const cols = this.out.columns || 100;
    // One row per line, no control of the server's own (the only escapes are ours, below), and
    // truncated so no line wraps: the cursor math counts one row per line.
    const fitted = lines.map(oneLine).map((l) => (l.length > cols - 1 ? l.slice(0, cols - 2) + '…' : l));
    let s = '';
    if (this.drawn > 0) s += `${ESC}${this.drawn}F`;
    s += `${ESC}0J` + fitted.join('\n') + '\n';
    this.out.write(s);
    this.drawn = fitted.length;
  }

  /** Leaves the last drawing on screen and hands the terminal back. */
  done(): void {
    this.drawn = 0;
  }
}

const STATE_MARK: Record<string, string> = {
  ready: '●',
  starting: '◌',
  unhealthy: '✗',
  ejected: '✗',
  draining: '◐',
  stopped: '○',
  crashed: '✗',
  failed: '✗',
};

/** The live view's lines for one deployment and the service it changes. */
export function renderLive(view: DeploymentView, status: ServiceStatus | null, now = Date.now()): string[] {
  const lines: string[] = [];
  const from = view.previousVersion ? `${view.previousVersion} → ` : '';
  lines.push(`${view.kind === 'rollback' ? 'rollback' : 'deploy'} ${view.app} to ${view.env}: ${from}${view.version} (${strategyName(view.strategy)})  ${view.id}`);
  lines.push(`status: ${outcome(view.status)}${view.step ? ` · ${view.step}` : ''} · ${deploymentDuration(view, now)}`);
  // The message often starts with the step already shown above, or only repeats the status.
  const msg = besidesStatus(view.status, view.step && view.message.startsWith(`${view.step}: `) ? view.message.slice(view.step.length + 2) : view.message);
  if (msg) lines.push(`  ${msg}`);
  if (status) {
    const weights = status.routes?.weights ?? {};
    const versions = status.versions.length > 0 ? status.versions : Object.keys(weights).map((v) => ({ version: v, weight: weights[v] ?? 0, ready: 0, desiredReplicas: 0, instances: [] }));
    if (versions.length > 0) lines.push('traffic:');
    const width = Math.max(...versions.map((v) => v.version.length));
    for (const v of versions) {
      lines.push(`  ${v.version.padEnd(width)} ${trafficShare(status.routes, v)}  ${formatInstances(v)}`);
      const marks = v.instances.map((i) => `${STATE_MARK[i.state] ?? '?'} ${i.id} ${i.state}${i.restarts > 0 ? ` (${i.restarts} restarts)` : ''}`);
      if (marks.length > 0) lines.push(`  ${' '.repeat(width)} ${marks.join('  ')}`);
    }
    if (status.dataPlaneError) lines.push(`  data plane: ${status.dataPlaneError}`);
  }
  lines.push(...analysisLines(view.state.analysis));
  const recent = view.timeline.slice(-5);
  if (recent.length > 0) lines.push('events:');
  for (const ev of recent) lines.push(`  ${eventLine(ev)}`);
  return lines;
}

export function eventLine(ev: DeploymentEventRecord): string {
  return `${formatTime(ev.at).slice(11)} ${oneLine(ev.kind).padEnd(12)} ${oneLine(ev.message)}`;
}

function strategyName(s: DeploymentView['strategy']): string {
  return Object.keys(s)[0] ?? 'unknown';
}

/** The timeline's last entry of a deployment that ended: the follower's own end line says it. */
const END_KINDS = new Set(['succeeded', 'failed', 'rolled_back', 'aborted']);

/** Prints timeline events once each (for a non-terminal stdout); the outcome is left to the end line, so it is said once. */
export class EventLines {
  private lastId = -1;
  constructor(private readonly write: (line: string) => void) {}
  show(view: DeploymentView): void {
    for (const ev of view.timeline) {
      if (ev.id <= this.lastId) continue;
      this.lastId = ev.id;
      if (!END_KINDS.has(ev.kind)) this.write(eventLine(ev));
    }
  }
}
