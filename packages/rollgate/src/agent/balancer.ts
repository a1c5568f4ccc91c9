/**
 * One service's routing table, compiled from a ServiceTable when it is set, and the version
 * and backend choice per request. Everything that depends only on the table is computed
 * here once; what depends on ejections is recomputed when the outlier epoch moves.
 *
 * Choice order: `x-rollgate-version` pin, header routes, sticky cookie, then weights
 * (or an equal share per instance with `balance: instances`). Versions without an
 * available backend are skipped; if no weighted version has one, any version that has
 * a backend serves rather than failing.
 */
import type { RouteSpec } from '../core/dataplane.js';
import type { Backend, ServiceTable } from './router-types.js';
import type { VersionCounters } from './metrics.js';
import type { FlagCounters } from './flag-metrics.js';
import type { EjectionGuard, OutlierSubject } from './outlier.js';
import type { BackendState } from './router-backend.js';

export interface VersionSlot {
  readonly name: string;
  readonly backends: readonly BackendState[];
  /** In the weighted rotation: weight > 0 (weights) or listed (instances). */
  readonly inRotation: boolean;
  readonly weight: number;
  readonly counters: VersionCounters;
  /** `set-cookie` value pinning a client to this version. */
  readonly cookie: string;
  /** Backends not ejected (recomputed per outlier epoch). */
  avail: BackendState[];
  rr: number;
}

/** Where a choice is written (the exchange itself: no allocation per request). */
export interface PickTarget {
  backend: BackendState | null;
  slot: VersionSlot | null;
  /** Chosen by weights or fallback (so a sticky cookie should record it). */
  weighted: boolean;
}

export interface Availability {
  readonly epoch: number;
}

interface HeaderRouteC {
  readonly header: string;
  readonly value: string;
  readonly slot: VersionSlot;
}

export class CompiledService implements EjectionGuard {
  readonly env: string;
  readonly app: string;
  readonly hosts: readonly string[];
  readonly routes: RouteSpec | null;
  readonly sticky: boolean;
  readonly slots = new Map<string, VersionSlot>();
  private readonly slotList: VersionSlot[] = [];
  private readonly headerRoutes: HeaderRouteC[] = [];
  private readonly instancesMode: boolean;

  private epoch = -1;
  private cum: number[] = [];
  private cumSlots: VersionSlot[] = [];
  private total = 0;
  private flat: BackendState[] = [];
  private flatSlots: VersionSlot[] = [];
  private flatRr = 0;
  private fallback: BackendState[] = [];
  private fallbackSlots: VersionSlot[] = [];
  private fallbackRr = 0;

  constructor(
    table: ServiceTable,
    stateOf: (b: Backend) => BackendState,
    countersOf: (version: string) => VersionCounters,
    private readonly availability: Availability,
    /** The service's per-(flag, variant) counters (kept across table swaps by the registry). */
    readonly flags: FlagCounters,
  ) {
    this.env = table.env;
    this.app = table.app;
    this.hosts = table.hosts.map((h) => h.toLowerCase());
    this.routes = table.routes;
    this.sticky = table.routes?.sticky ?? false;
    this.instancesMode = table.routes?.balance === 'instances';
    const weights = table.routes?.weights ?? {};
    const names = new Set<string>([...Object.keys(table.backends), ...Object.keys(weights)]);
    if (table.routes?.preview) names.add(table.routes.preview.version);
    for (const h of table.routes?.headerRoutes ?? []) names.add(h.version);
    for (const name of names) {
      const weight = weights[name] ?? 0;
      const slot: VersionSlot = {
        name,
        backends: (table.backends[name] ?? []).map(stateOf),
        inRotation: this.instancesMode ? Object.hasOwn(weights, name) : weight > 0,
        weight,
        counters: countersOf(name),
        cookie: `rollgate_version=${encodeURIComponent(name)}; Path=/; HttpOnly; SameSite=Lax`,
        avail: [],
        rr: 0,
      };
      this.slots.set(name, slot);
      this.slotList.push(slot);
    }
    for (const h of table.routes?.headerRoutes ?? []) {
      this.headerRoutes.push({ header: h.header.toLowerCase(), value: h.value, slot: this.slots.get(h.version) as VersionSlot });
    }
  }

  get hasHeaderRoutes(): boolean {
    return this.headerRoutes.length > 0;
  }

  /** Recomputes what depends on ejections, when they changed since last time. */
  private refresh(): void {
    this.epoch = this.availability.epoch;
    this.cum = [];
    this.cumSlots = [];
    this.total = 0;
    this.flat = [];
    this.flatSlots = [];
    this.fallback = [];
    this.fallbackSlots = [];
    for (const s of this.slotList) {
      s.avail = s.backends.filter((b) => !b.ejected);
      for (const b of s.avail) {
        this.fallback.push(b);
        this.fallbackSlots.push(s);
      }
      if (!s.inRotation || s.avail.length === 0) continue;
      if (this.instancesMode) {
        for (const b of s.avail) {
          this.flat.push(b);
          this.flatSlots.push(s);
        }
      } else {
        this.total += s.weight;
        this.cum.push(this.total);
        this.cumSlots.push(s);
      }
    }
  }

  /** Picks version and backend for a request. False when nothing can serve it. */
  choose(t: PickTarget, pin: string | null, cookie: string | null, rawHeaders: string[]): boolean {
    if (this.epoch !== this.availability.epoch) this.refresh();
    t.weighted = false;
    if (pin !== null) {
      const s = this.slots.get(pin);
      if (s !== undefined && s.avail.length > 0) return this.fromSlot(t, s);
    }
    if (this.headerRoutes.length > 0) {
      const s = this.matchHeaderRoute(rawHeaders);
      if (s !== null) return this.fromSlot(t, s);
    }
    if (cookie !== null && this.sticky) {
      const s = this.slots.get(cookie);
      if (s !== undefined && s.inRotation && s.avail.length > 0) return this.fromSlot(t, s);
    }
    t.weighted = true;
    if (this.instancesMode) {
      const n = this.flat.length;
      if (n > 0) {
        const i = this.flatRr++ % n;
        t.backend = this.flat[i] as BackendState;
        t.slot = this.flatSlots[i] as VersionSlot;
        return true;
      }
    } else if (this.total > 0) {
      const cum = this.cum;
      const r = Math.random() * this.total;
      let i = 0;
      while (i < cum.length - 1 && r >= (cum[i] as number)) i++;
      return this.fromSlot(t, this.cumSlots[i] as VersionSlot);
    }
    return this.pickFallback(t, null);
  }

  /** Everything to one version (blue-green preview listener). */
  choosePreview(t: PickTarget, version: string): boolean {
    if (this.epoch !== this.availability.epoch) this.refresh();
    t.weighted = false;
    const s = this.slots.get(version);
    if (s === undefined) return false;
    if (s.avail.length > 0) return this.fromSlot(t, s);
    // Every backend ejected: still try one rather than answering 503.
    if (s.backends.length === 0) return false;
    t.slot = s;
    t.backend = s.backends[s.rr++ % s.backends.length] as BackendState;
    return true;
  }

  /**
   * Another backend after a connection failure: same version first, then a version in
   * rotation, then any; a backend already tried only when nothing else exists.
   */
  chooseRetry(t: PickTarget, tried: readonly BackendState[], sameVersionOnly: boolean): boolean {
    if (this.epoch !== this.availability.epoch) this.refresh();
    const cur = t.slot;
    if (cur !== null && this.pickUntried(t, cur, tried)) return true;
    if (!sameVersionOnly) {
      for (const s of this.slotList) if (s !== cur && s.inRotation && this.pickUntried(t, s, tried)) return true;
      for (const s of this.slotList) if (s !== cur && !s.inRotation && this.pickUntried(t, s, tried)) return true;
    }
    // Nothing untried: the same backend again (a stale keep-alive socket is the usual cause).
    return cur !== null && t.backend !== null && (cur.avail.includes(t.backend) || cur.backends.includes(t.backend));
  }

  canEject(subject: OutlierSubject): boolean {
    for (const s of this.slotList) {
      for (const b of s.backends) if (b !== subject && !b.ejected) return true;
    }
    return false;
  }

  /** Every backend state this table refers to. */
  *backendStates(): Iterable<BackendState> {
    for (const s of this.slotList) yield* s.backends;
  }

  private fromSlot(t: PickTarget, s: VersionSlot): boolean {
    const n = s.avail.length;
    if (n === 0) return this.pickFallback(t, s);
    t.slot = s;
    t.backend = n === 1 ? (s.avail[0] as BackendState) : (s.avail[s.rr++ % n] as BackendState);
    return true;
  }

  private pickFallback(t: PickTarget, _wanted: VersionSlot | null): boolean {
    const n = this.fallback.length;
    if (n === 0) return false;
    const i = this.fallbackRr++ % n;
    t.backend = this.fallback[i] as BackendState;
    t.slot = this.fallbackSlots[i] as VersionSlot;
    t.weighted = true;
    return true;
  }

  private pickUntried(t: PickTarget, s: VersionSlot, tried: readonly BackendState[]): boolean {
    const n = s.avail.length;
    for (let k = 0; k < n; k++) {
      const b = s.avail[(s.rr + k) % n] as BackendState;
      if (!tried.includes(b)) {
        // The round-robin position is left alone: a retry must not shift the regular rotation.
        t.slot = s;
        t.backend = b;
        return true;
      }
    }
    return false;
  }

  private matchHeaderRoute(raw: string[]): VersionSlot | null {
    for (const r of this.headerRoutes) {
      if (r.slot.avail.length === 0) continue;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i] as string;
        if (name.length === r.header.length && name.toLowerCase() === r.header && raw[i + 1] === r.value) return r.slot;
      }
    }
    return null;
  }
}
