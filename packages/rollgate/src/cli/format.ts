/** Plain-text formatting for human output: tables, durations, weights. No colours needed to read it. */
import type { DeploymentRecord, AnalysisSnapshot } from '../core/domain.js';
import type { ServiceStatus, VersionStatus } from '../api/contract.js';
import { oneLine } from './terminal-text.js';

/** Left-aligned columns separated by two spaces; the header row is upper-cased. */
export function table(header: string[], rows: string[][]): string {
  // A cell is one line: a newline (or any control) from the server must not start a fake row.
  const all = [header.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(oneLine))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => visibleLength(r[i] ?? ''))));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/** 850ms, 12s, 3m 05s, 2h 10m, 3d 4h. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** How long a deployment ran (or has been running, when `now` is given and it is not finished). */
export function deploymentDuration(d: Pick<DeploymentRecord, 'createdAt' | 'startedAt' | 'finishedAt'>, now = Date.now()): string {
  const start = Date.parse(d.startedAt ?? d.createdAt);
  const end = d.finishedAt ? Date.parse(d.finishedAt) : now;
  return formatDuration(end - start);
}

/** "2024-05-01 12:03:04" in UTC (the store's time zone), compact and sortable. */
export function formatTime(iso: string | null): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/**
 * "v1 80% · v2 20%"; versions with weight 0 left out unless nothing else serves. With
 * `balance: instances` (rolling) traffic follows instances, so it shows them: "v1 2 inst · v2 1 inst".
 */
export function formatWeights(weights: Record<string, number> | null | undefined, by?: { balance: 'weights' | 'instances'; versions: readonly Pick<VersionStatus, 'version' | 'ready'>[] }): string {
  const entries = Object.entries(weights ?? {});
  if (entries.length === 0) return '-';
  if (by?.balance === 'instances') return entries.map(([v]) => `${v} ${instancesOf(v, by.versions)} inst`).join(' · ');
  const shown = entries.filter(([, w]) => w > 0);
  return (shown.length > 0 ? shown : entries).map(([v, w]) => `${v} ${w}%`).join(' · ');
}

function instancesOf(version: string, versions: readonly Pick<VersionStatus, 'version' | 'ready'>[]): number {
  return versions.find((x) => x.version === version)?.ready ?? 0;
}

/** One version's share of traffic for the live view: a weight bar, or its instances with `balance: instances`. */
export function trafficShare(routes: { balance: 'weights' | 'instances'; weights: Record<string, number> } | null | undefined, v: Pick<VersionStatus, 'version' | 'ready'> & { weight?: number }): string {
  if (routes?.balance === 'instances') return Object.hasOwn(routes.weights, v.version) ? `${v.ready} inst in rotation` : 'not in rotation';
  return weightBar(routes?.weights[v.version] ?? v.weight ?? 0);
}

/** A fixed-width bar: `[██████░░░░] 60%`. */
export function weightBar(weight: number, width = 20): string {
  const w = Math.max(0, Math.min(100, weight));
  const full = Math.round((w / 100) * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(w).padStart(3)}%`;
}

/** "2/2 ready" or "1/2 ready, 1 starting". */
export function formatInstances(v: Pick<VersionStatus, 'ready' | 'desiredReplicas' | 'instances'>): string {
  const counts = new Map<string, number>();
  for (const i of v.instances) if (i.state !== 'ready') counts.set(i.state, (counts.get(i.state) ?? 0) + 1);
  const extra = [...counts].map(([state, n]) => `${n} ${state}`);
  return [`${v.ready}/${v.desiredReplicas} ready`, ...extra].join(', ');
}

export function describeDeployment(d: { status: string; step?: string | null; message?: string }): string {
  const step = d.step ? `: ${oneLine(d.step)}` : '';
  return `${oneLine(d.status)}${step}`;
}

/** One row per app × environment (the compact `rollgate status` table). */
export function statusTable(services: ServiceStatus[]): string {
  const rows = services.map((s) => {
    const weights = s.routes ? formatWeights(s.routes.weights, { balance: s.routes.balance, versions: s.versions }) : '-';
    const instances = s.versions.length === 0 ? '-' : s.versions.map((v) => `${v.version} ${formatInstances(v)}${v.failed ? ' (failed)' : ''}`).join('; ');
    const dep = s.activeDeployment ? `${s.activeDeployment.version} ${describeDeployment(s.activeDeployment)}` : '-';
    return [s.app, s.env, s.currentVersion ?? '-', weights, instances, dep, s.isolation === 'none' ? 'NONE (can read the platform\'s files)' : (s.isolation ?? '-')];
  });
  return table(['app', 'env', 'current', 'weights', 'instances', 'deployment', 'isolation'], rows);
}

/** The analysis of a deployment: its verdict so far and, per metric, canary vs stable and why. */
export function analysisLines(a: AnalysisSnapshot | null | undefined): string[] {
  if (!a) return [];
  const num = (v: number | null) => (v === null ? '-' : Math.abs(v) < 1 && v !== 0 ? v.toFixed(4) : v.toFixed(1));
  const lines = [`analysis (${a.phase}): ${a.verdict === 'not_judged' ? 'not judged' : a.verdict} — ${oneLine(a.reason)}`];
  for (const m of a.metrics) lines.push(`  ${m.verdict === 'pass' ? '✓' : m.verdict === 'fail' ? '✗' : '…'} ${oneLine(m.name).padEnd(16)} canary ${num(m.canary).padStart(8)}  stable ${num(m.stable).padStart(8)}  ${oneLine(m.reason)}`);
  return lines;
}

export function outcome(status: string): string {
  return status === 'rolled_back' ? 'rolled back' : status;
}
