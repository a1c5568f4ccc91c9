/**
 * Which flags should go (as Unleash's "potentially stale" and LaunchDarkly's code references
 * nudge): past their expected lifetime; decided everywhere (fully on or off in every environment
 * where it is set) for `days`; or not evaluated by any SDK for `days` (usage reported by SDKs).
 * Pure: the caller passes the flags, their states, their usage and the time.
 */
import type { FlagState, FlagRecord, FlagStateRecord } from '../store/flags-types.js';
import type { FlagUsageRecord } from '../store/flag-metrics-types.js';

export type StaleReason = 'past-lifetime' | 'decided' | 'unused';

export interface StaleFlag {
  name: string;
  kind: FlagRecord['kind'];
  owner: string | null;
  reasons: { reason: StaleReason; detail: string }[];
}

const DAY = 86_400_000;

/** Everyone gets the same answer: off, or on with a strategy that lets every context in. */
export function decided(s: FlagState): 'on' | 'off' | null {
  if (!s.enabled) return 'off';
  if ((s.dependencies?.length ?? 0) > 0 || (s.variants?.length ?? 0) > 1) return null;
  for (const st of s.strategies ?? []) {
    if (st.disabled) continue;
    if ((st.constraints?.length ?? 0) > 0 || (st.segments?.length ?? 0) > 0 || (st.variants?.length ?? 0) > 1) continue;
    if (st.name === 'default') return 'on';
    if (st.name === 'flexibleRollout' && Number(st.parameters?.rollout ?? 100) >= 100) return 'on';
  }
  return (s.strategies ?? []).length === 0 ? 'on' : null;
}

export function staleFlags(flags: readonly FlagRecord[], states: readonly FlagStateRecord[], usage: readonly FlagUsageRecord[], days: number, now: Date): StaleFlag[] {
  const out: StaleFlag[] = [];
  const cutoff = now.getTime() - days * DAY;
  for (const f of flags) {
    if (f.archived) continue;
    const reasons: StaleFlag['reasons'] = [];
    if (f.lifetimeDays !== null) {
      const due = Date.parse(f.createdAt) + f.lifetimeDays * DAY;
      if (due <= now.getTime()) reasons.push({ reason: 'past-lifetime', detail: `expected to live ${f.lifetimeDays} days as a ${f.kind} flag; created ${f.createdAt.slice(0, 10)}, ${Math.floor((now.getTime() - due) / DAY)} days past` });
    }
    const mine = states.filter((s) => s.name === f.name);
    const answers = mine.map((s) => decided(s.state));
    if (mine.length > 0 && answers.every((a) => a !== null) && new Set(answers).size === 1 && mine.every((s) => Date.parse(s.updatedAt) <= cutoff)) {
      reasons.push({ reason: 'decided', detail: `${answers[0]} for everyone in ${mine.map((s) => s.env).join(', ')}, unchanged for ${days} days or more` });
    }
    const seen = usage.filter((u) => u.name === f.name).map((u) => Date.parse(u.lastSeenAt));
    const last = seen.length ? Math.max(...seen) : null;
    if (Date.parse(f.createdAt) <= cutoff && (last === null || last <= cutoff)) {
      reasons.push({ reason: 'unused', detail: last === null ? `no SDK has reported evaluating it since it was created (${f.createdAt.slice(0, 10)})` : `last evaluated ${new Date(last).toISOString().slice(0, 10)}, over ${days} days ago` });
    }
    // Kill switches and permissions are meant to stay: only their disuse is worth saying.
    const kept = f.kind === 'kill-switch' || f.kind === 'permission' ? reasons.filter((r) => r.reason === 'unused') : reasons;
    if (kept.length > 0) out.push({ name: f.name, kind: f.kind, owner: f.owner, reasons: kept });
  }
  return out;
}
