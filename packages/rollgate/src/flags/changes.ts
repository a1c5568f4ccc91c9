/**
 * How every flag change is carried out: in one store transaction with its audit entry (before
 * and after), so a change that cannot be put on the trail does not happen; then `flag.changed`
 * on the event bus for each environment whose delivery state moved (after the commit: an event
 * never names a revision that was rolled back).
 */
import type { AuditInput, AuditSource, AuditTrail } from '../engine/audit.js';
import type { EventBus } from '../engine/events.js';
import type { Logger } from '../engine/logger.js';
import { errorMessage } from '../core/errors.js';
import type { FlagsStore, FlagsTx } from '../store/flags-types.js';

/** The event kind of every flag change; the delivery stream and notifications follow it. */
export const FLAG_CHANGED = 'flag.changed';

/** `data` of a `flag.changed` event (with the event's own app and env; env null for an app-wide change of a flag set nowhere). */
export interface FlagChangedData {
  /** The flag, or null for an import (then `flags` names them). */
  flag: string | null;
  flags?: string[];
  /** The environment's revision after the change; null when no environment's state changed. */
  revision: number | null;
  action: string;
  actor: string;
}

/** Who asks for a change, for the trail. */
export interface Who {
  actor: string;
  source?: Partial<AuditSource> | null | undefined;
}

export interface Moved {
  env: string | null;
  revision: number | null;
  flag: string | null;
  flags?: string[];
}

export interface ChangeDeps {
  flags: FlagsStore;
  audit: AuditTrail;
  events?: EventBus | undefined;
  log?: Logger | undefined;
}

export interface Outcome<T> {
  result: T;
  before: unknown;
  after: unknown;
  moved: Moved[];
  /** More entries of the same transaction, recorded after the change's own (a rollout's step, a rollout paused by it). */
  also?: AuditInput[];
}

/** Runs `fn` in one transaction, records `action` on `target` in it, then announces what moved. */
export async function change<T>(d: ChangeDeps, who: Who, app: string, action: string, target: string, fn: (tx: FlagsTx) => Promise<Outcome<T>>): Promise<T> {
  const out = await d.flags.change(async (tx) => {
    const o = await fn(tx);
    await d.audit.record({ actor: who.actor, action, target, source: who.source, before: o.before, after: o.after }, tx.audit);
    for (const e of o.also ?? []) await d.audit.record(e, tx.audit);
    return o;
  });
  for (const m of out.moved) {
    const data: FlagChangedData = { flag: m.flag, ...(m.flags ? { flags: m.flags } : {}), revision: m.revision, action, actor: who.actor };
    // Committed and on the trail already: a lost event is logged, and readers catch up by revision.
    await d.events?.emit({ type: FLAG_CHANGED, app, env: m.env, data }).catch((e: unknown) => d.log?.error('flag change not announced', { app, env: m.env, action, error: errorMessage(e) }));
  }
  return out.result;
}
