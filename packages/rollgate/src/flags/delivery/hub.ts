/**
 * The delivery hub: one channel per (app, env) this server delivers, holding the state of the
 * newest revision it has read (compiled once into an Evaluator) and every stream connected to
 * it. A `flag.changed` event of the bus makes the channel read the new state once, then every
 * stream gets that revision's frame (Unleash delta or OFREP refetch), encoded once. A revoked
 * key's streams are closed at once. Bounded as the event streams are (api/event-hub.ts): streams
 * per key and in all (429 past a cap), a reader that stops reading is cut off, keep-alives on
 * one timer.
 *
 * Other parts of the server (the Rollgate SDK's server side, the release guard) use it too:
 * `snapshot(app, env)` for the current evaluator, `watch(app, env, fn)` for each new revision.
 */
import { compile, type ClientFeatures, type Evaluator, type Feature } from '@rollgate/sdk/engine';
import { z } from 'zod';
import { EventStream, type CloseReason } from '../../api/event-stream.js';
import { KEEP_ALIVE, type Frame } from '../../api/event-replay.js';
import type { EventRecord } from '../../core/domain.js';
import { RollgateError, errorMessage } from '../../core/errors.js';
import type { EventBus } from '../../engine/events.js';
import type { Logger } from '../../engine/logger.js';
import type { FlagEnvState } from '../../store/flags-types.js';
import { FLAG_CHANGED, type FlagChangedData } from '../changes.js';
import { FLAG_KEY_REVOKED, type ResolvedFlagKey } from '../flag-keys.js';
import { CONNECTED_COMMENT, ofrepRefetch, revisionEtag, unleashConnected, unleashUpdated } from './frames.js';

const Count = (max: number) => z.number().int().min(1).max(max);
export const DeliveryLimits = z
  .object({
    /** Open streams per SDK key (an app's instances share their key). */
    perKey: Count(1_000_000).default(500),
    /** Open delivery streams on this server. */
    total: Count(1_000_000).default(5000),
    /** Bytes waiting for one client past which its stream is closed. */
    maxBufferedBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
    /** Keep-alive beat (Unleash SDKs give up on a silent stream after 60 s); two beats without progress cut a reader off. */
    keepAliveMs: z.number().int().min(10).default(15_000),
  })
  .strict();
export type DeliveryLimits = z.output<typeof DeliveryLimits>;
export type DeliveryConfig = z.input<typeof DeliveryLimits>;

/** The state of one revision of an (app, env), as every endpoint serves it. */
export interface Snapshot {
  app: string;
  env: string;
  revision: number;
  /** Unleash's client-features body (version 2). */
  state: ClientFeatures;
  etag: string;
  evaluator: Evaluator;
  /** The flags by name. */
  features: ReadonlyMap<string, Feature>;
  /** When this server first read this revision (ms). */
  readAt: number;
}

export type StreamFormat = 'unleash' | 'ofrep';

interface Member {
  stream: EventStream;
  key: ResolvedFlagKey;
  format: StreamFormat;
}

interface Channel {
  app: string;
  env: string;
  current: Snapshot | null;
  loading: Promise<Snapshot> | null;
  members: Set<Member>;
  watchers: Set<(next: Snapshot, prev: Snapshot | null) => void>;
  /** The highest revision this server announced (its own changes, known at once). */
  announced: number;
  /** When the store's revision was last read (ms). */
  checkedAt: number;
}

/**
 * How long a cached state serves without asking the store for its revision. This server's own
 * changes reach the cache at once (their event is seen before the change is answered); this
 * bounds how late a change made by another server on the same database is seen.
 */
export const REVISION_RECHECK_MS = 250;

export interface DeliveryHubDeps {
  bus: EventBus;
  /** The (app, env) state with its revision, read in one snapshot. */
  readState(app: string, env: string): Promise<FlagEnvState>;
  /** The revision alone (a cheap check that the cached state is the newest). */
  revision(app: string, env: string): Promise<number>;
  log: Logger;
  config?: DeliveryConfig;
}

const channelKey = (app: string, env: string) => `${app}\u0000${env}`;

export class DeliveryHub {
  readonly limits: DeliveryLimits;
  private readonly channels = new Map<string, Channel>();
  private readonly perKey = new Map<string, number>();
  private streams = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: () => void;

  constructor(private readonly d: DeliveryHubDeps) {
    const parsed = DeliveryLimits.safeParse(d.config ?? {});
    if (!parsed.success) throw new RollgateError('invalid_input', `invalid delivery stream limits: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'limits'}: ${i.message}`).join('; ')}`);
    this.limits = parsed.data;
    this.unsubscribe = d.bus.subscribe((e) => this.onEvent(e));
  }

  get openStreams(): number {
    return this.streams;
  }

  /** The newest state of (app, env): the cached one when its revision is still the store's. */
  async snapshot(app: string, env: string): Promise<Snapshot> {
    const ch = this.channel(app, env);
    const t = Date.now();
    if (ch.current && ch.current.revision >= ch.announced && t - ch.checkedAt < REVISION_RECHECK_MS) return ch.current;
    const stored = await this.d.revision(app, env);
    ch.checkedAt = t;
    return this.fresh(ch, Math.max(stored, ch.announced));
  }

  /** The streams open on (app, env), by format. */
  connected(app: string, env: string): Record<StreamFormat, number> {
    const out: Record<StreamFormat, number> = { unleash: 0, ofrep: 0 };
    for (const m of this.channels.get(channelKey(app, env))?.members ?? []) out[m.format]++;
    return out;
  }

  /** Bytes this server holds for the clients of (app, env)'s streams: in all, and for the one furthest behind. */
  waiting(app: string, env: string): { bytes: number; slowest: number } {
    let bytes = 0;
    let slowest = 0;
    for (const m of this.channels.get(channelKey(app, env))?.members ?? []) {
      const b = m.stream.bufferedBytes;
      bytes += b;
      if (b > slowest) slowest = b;
    }
    return { bytes, slowest };
  }

  /** Calls `fn` with every new revision of (app, env) this server sees; returns the unsubscribe. */
  watch(app: string, env: string, fn: (next: Snapshot, prev: Snapshot | null) => void): () => void {
    const ch = this.channel(app, env);
    ch.watchers.add(fn);
    return () => ch.watchers.delete(fn);
  }

  /**
   * A stream for `key`'s (app, env), or 429 past a cap. Unleash streams start with the whole
   * state (`unleash-connected`), then get each revision's delta; OFREP streams get a refetch
   * event per revision, and one at once when the state moved past `since` (the revision the
   * client last evaluated: a change between its fetch and this connect is not lost).
   */
  async open(key: ResolvedFlagKey, format: StreamFormat, since?: number): Promise<EventStream> {
    if (this.streams >= this.limits.total) {
      throw new RollgateError('too_many_requests', `this server already carries ${this.limits.total} flag delivery streams, its limit; let SDKs poll instead, or raise the limit`);
    }
    const mine = this.perKey.get(key.id) ?? 0;
    if (mine >= this.limits.perKey) {
      throw new RollgateError('too_many_requests', `SDK key ${key.id} already has ${mine} delivery streams open, the limit per key is ${this.limits.perKey}; poll instead, or give other instances their own key`);
    }
    // Counted before the read, so that streams opening together cannot pass the caps.
    this.perKey.set(key.id, mine + 1);
    this.streams++;
    const ch = this.channel(key.app, key.env);
    try {
      await this.fresh(ch, await this.d.revision(key.app, key.env));
    } catch (e) {
      this.release(key.id);
      throw e;
    }
    const member = {} as Member;
    const stream = new EventStream({ after: -1, maxBufferedBytes: this.limits.maxBufferedBytes, onClose: (reason, buffered) => this.closed(ch, member, reason, buffered) });
    Object.assign(member, { stream, key, format });
    ch.members.add(member);
    stream.startReplay([], []);
    // What this stream starts from is the channel's state now: every later revision comes as a delta on it.
    const cur = ch.current!;
    if (format === 'unleash') stream.push(this.hydration(cur));
    else stream.push(since !== undefined && cur.revision > since ? ofrepRefetch(cur.revision, cur.readAt) : CONNECTED_COMMENT);
    this.ensureTimer();
    return stream;
  }

  /** Closes every stream and stops listening (server stop). */
  close(): void {
    for (const ch of this.channels.values()) for (const m of [...ch.members]) m.stream.close('server');
    this.unsubscribe();
    this.stopTimer();
  }

  // ---- internals

  private channel(app: string, env: string): Channel {
    const k = channelKey(app, env);
    let ch = this.channels.get(k);
    if (!ch) {
      ch = { app, env, current: null, loading: null, members: new Set(), watchers: new Set(), announced: 0, checkedAt: 0 };
      this.channels.set(k, ch);
    }
    return ch;
  }

  private onEvent(e: EventRecord): void {
    if (e.type === FLAG_CHANGED && e.app && e.env) {
      const ch = this.channels.get(channelKey(e.app, e.env));
      const revision = (e.data as FlagChangedData | null)?.revision ?? null;
      if (ch && revision !== null) ch.announced = Math.max(ch.announced, revision);
      if (!ch || revision === null || (ch.current && ch.current.revision >= revision)) return;
      // Only a channel someone follows reads at once; the others read on their next request.
      if (ch.members.size === 0 && ch.watchers.size === 0) return;
      this.fresh(ch, revision).catch((err: unknown) => this.d.log.error('flag state not read after a change', { app: e.app, env: e.env, revision, error: errorMessage(err) }));
    } else if (e.type === FLAG_KEY_REVOKED) {
      const id = (e.data as { id?: unknown } | null)?.id;
      if (typeof id !== 'string') return;
      for (const ch of this.channels.values()) for (const m of [...ch.members]) if (m.key.id === id) m.stream.close('server');
    }
  }

  /** The channel's state at `atLeast` or later, read once however many ask at the same time. */
  private async fresh(ch: Channel, atLeast: number): Promise<Snapshot> {
    for (let tries = 0; ; tries++) {
      if (ch.current && ch.current.revision >= atLeast) return ch.current;
      if (!ch.loading) ch.loading = this.load(ch).finally(() => (ch.loading = null));
      const got = await ch.loading;
      // A read that began before the change committed is older: read again (a few times at most).
      if (got.revision >= atLeast || tries >= 3) return got;
    }
  }

  private async load(ch: Channel): Promise<Snapshot> {
    const s = await this.d.readState(ch.app, ch.env);
    const prev = ch.current;
    if (prev && prev.revision >= s.revision) return prev;
    const state: ClientFeatures = { ...s.state, version: 2 };
    const next: Snapshot = { app: ch.app, env: ch.env, revision: s.revision, state, etag: revisionEtag(s.revision), evaluator: compile(state), features: new Map(state.features.map((f) => [f.name, f])), readAt: Date.now() };
    ch.current = next;
    if (prev) this.fanOut(ch, prev, next);
    for (const w of ch.watchers) {
      try {
        w(next, prev);
      } catch (err) {
        this.d.log.error('flag revision watcher failed', { app: ch.app, env: ch.env, error: errorMessage(err) });
      }
    }
    return next;
  }

  private fanOut(ch: Channel, prev: Snapshot, next: Snapshot): void {
    let unleash: Frame | null = null;
    let ofrep: Frame | null = null;
    for (const m of ch.members) {
      if (m.format === 'unleash') m.stream.push((unleash ??= unleashUpdated(next.revision, prev.state, next.state)));
      else m.stream.push((ofrep ??= ofrepRefetch(next.revision, next.readAt)));
    }
  }

  /** The hydration frame of a snapshot, encoded once per revision. */
  private readonly hydrations = new WeakMap<Snapshot, Frame>();
  private hydration(s: Snapshot): Frame {
    let f = this.hydrations.get(s);
    if (!f) this.hydrations.set(s, (f = unleashConnected(s.revision, s.state)));
    return f;
  }

  private closed(ch: Channel, m: Member, reason: CloseReason, buffered: number): void {
    if (!ch.members.delete(m)) return;
    this.release(m.key.id);
    if (reason === 'slow') this.d.log.warn('flag delivery stream closed: its SDK does not read', { app: ch.app, env: ch.env, key: m.key.id, bufferedBytes: buffered });
    if (this.streams === 0) this.stopTimer();
  }

  private release(keyId: string): void {
    this.streams--;
    const n = (this.perKey.get(keyId) ?? 1) - 1;
    if (n <= 0) this.perKey.delete(keyId);
    else this.perKey.set(keyId, n);
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const ch of this.channels.values()) for (const m of ch.members) m.stream.tick(KEEP_ALIVE);
    }, this.limits.keepAliveMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
