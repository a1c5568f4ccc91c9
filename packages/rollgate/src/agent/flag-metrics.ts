/**
 * Per-(flag, variant) request counters of one service, fed by the `rollgate-flags` response
 * header an app sets (see @rollgate/sdk/node): each response is counted, like the per-version
 * counters and with the same latency buckets, under every pair its header names. A guarded
 * flag rollout is judged from these (core/flag-guard.ts).
 *
 * The header comes from the app, so nothing in it is trusted: a value longer than
 * MAX_FLAGS_VALUE_CHARS or naming more than MAX_PAIRS_PER_RESPONSE pairs, an item without `=`,
 * bad percent-encoding or an over-long name is counted as malformed and otherwise ignored; a
 * service tracks at most MAX_TRACKED_PAIRS pairs, and a response naming a pair beyond that
 * counts it as dropped. Memory is bounded whatever names an app sends.
 *
 * Cost: nothing unless the header was present; then one split and one Map lookup per pair by
 * the raw (still encoded) item; names are decoded only the first time an item is seen.
 */
import type { FlagMetrics } from '../core/dataplane.js';
import { VersionCounters } from './metrics.js';

export const FLAGS_HEADER = 'rollgate-flags';
export const MAX_TRACKED_PAIRS = 256;
/** The SDK writes at most 1 KiB; a proxy in between could join a few headers. */
export const MAX_FLAGS_VALUE_CHARS = 4096;
export const MAX_PAIRS_PER_RESPONSE = 32;
/** Longest decoded flag or variant name kept (characters). */
export const MAX_NAME_CHARS = 200;
/** Raw items remembered as another spelling of a tracked pair (e.g. `%41` for `A`), beyond which they are decoded each time. */
const MAX_ALIASES = 2 * MAX_TRACKED_PAIRS;

interface Pair {
  readonly flag: string;
  readonly variant: string;
  readonly counters: VersionCounters;
}

export class FlagCounters {
  /** By raw header item (`flag=variant` as sent): the hot path's lookup. */
  private readonly byItem = new Map<string, Pair>();
  /** By decoded `flag \0 variant`: one entry per pair whatever its spelling. */
  private readonly byName = new Map<string, Pair>();
  private aliases = 0;
  droppedPairs = 0;
  malformed = 0;
  appDropped = 0;

  /** One response named by `header`; `cutShort` when it was cut off after its head. */
  observe(header: string, status: number, ms: number, cutShort: boolean): void {
    if (header.length > MAX_FLAGS_VALUE_CHARS) {
      this.malformed++;
      return;
    }
    const items = header.split(',');
    if (items.length > MAX_PAIRS_PER_RESPONSE + 1) {
      this.malformed++;
      return;
    }
    for (const raw of items) {
      const item = raw.trim();
      if (item === '') continue;
      const p = this.byItem.get(item) ?? this.resolve(item);
      if (p === null) continue;
      const c = p.counters;
      c.observe(status, ms);
      if (cutShort) {
        c.upstreamErrors++;
        c.cutShort++;
      }
    }
  }

  /** A raw item seen for the first time (or a spelling not remembered): decode, find or add its pair. */
  private resolve(item: string): Pair | null {
    if (item.charCodeAt(0) === 43) {
      // `+N`: pairs the app left out of its header.
      const n = Number(item.slice(1));
      if (item.length <= 7 && Number.isInteger(n) && n > 0) this.appDropped += n;
      else this.malformed++;
      return null;
    }
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1 || item.indexOf('=', eq + 1) >= 0) {
      this.malformed++;
      return null;
    }
    let flag: string;
    let variant: string;
    try {
      flag = decodeURIComponent(item.slice(0, eq));
      variant = decodeURIComponent(item.slice(eq + 1));
    } catch {
      this.malformed++;
      return null;
    }
    if (flag.length > MAX_NAME_CHARS || variant.length > MAX_NAME_CHARS) {
      this.malformed++;
      return null;
    }
    const key = `${flag}\u0000${variant}`;
    let p = this.byName.get(key);
    if (p !== undefined) {
      if (this.aliases < MAX_ALIASES) {
        this.aliases++;
        this.byItem.set(item, p);
      }
      return p;
    }
    if (this.byName.size >= MAX_TRACKED_PAIRS) {
      this.droppedPairs++;
      return null;
    }
    p = { flag, variant, counters: new VersionCounters() };
    this.byName.set(key, p);
    this.byItem.set(item, p);
    return p;
  }

  get size(): number {
    return this.byName.size;
  }

  snapshot(): FlagMetrics {
    const pairs: FlagMetrics['pairs'] = [];
    for (const p of this.byName.values()) pairs.push({ flag: p.flag, variant: p.variant, metrics: p.counters.snapshot() });
    return { pairs, droppedPairs: this.droppedPairs, malformed: this.malformed, appDropped: this.appDropped, maxPairs: MAX_TRACKED_PAIRS };
  }
}
