/**
 * `window` stages: wait until changes may reach an environment (its deployWindows and the
 * stage's own allow/freeze). A closed window makes the run wait, never fail.
 */
import { EnvironmentSpec } from '../../core/spec.js';
import { windowVerdict } from '../../core/windows.js';
import type { WindowsSpec } from '../../core/windows-spec.js';
import type { Store } from '../../store/types.js';
import { succeeded, waiting, type StageHandler } from './stage.js';

/** How often a closed window is looked at again at most (a freeze may be lifted by a new spec). */
const RECHECK_MS = 30_000;

/** Every window spec that applies to a deploy to `env`, plus extra ones. */
export async function windowsFor(store: Store, env: string | undefined, extra: WindowsSpec[] = []): Promise<WindowsSpec[]> {
  const out = [...extra];
  if (env) {
    const rec = await store.getEnvironment(env);
    const spec = rec ? EnvironmentSpec.safeParse(rec.spec) : null;
    if (spec?.success && spec.data.deployWindows) out.push(spec.data.deployWindows);
  }
  return out;
}

/** Wait message and time, or null when the windows are open now. */
export function closedWindow(specs: WindowsSpec[], now: number): { message: string; waitMs: number } | null {
  if (specs.length === 0) return null;
  const v = windowVerdict(specs, new Date(now));
  if (v.open) return null;
  const until = v.opensAt ? Date.parse(v.opensAt) - now : RECHECK_MS;
  return { message: `${v.reason}${v.opensAt ? `; opens at ${v.opensAt}` : ''}`, waitMs: Math.max(250, Math.min(RECHECK_MS, until)) };
}

export function windowStage(store: Store): StageHandler {
  return {
    kind: 'window',
    async tick(ctx) {
      const w = ctx.spec.window!;
      const own: WindowsSpec[] = w.allow.length || w.freeze.length ? [{ timezone: w.timezone, allow: w.allow, freeze: w.freeze }] : [];
      const closed = closedWindow(await windowsFor(store, w.env, own), ctx.now);
      if (!closed) return succeeded(`deploy window open${w.env ? ` for ${w.env}` : ''}`);
      if (ctx.stage.status !== 'waiting') ctx.log(`waiting: ${closed.message}`);
      return waiting(closed.message, closed.waitMs);
    },
    async stop() {},
  };
}
