/**
 * Every open event stream of this server: their caps (per principal and in all), the one bus
 * listener that serializes each event once for all of them, the one keep-alive timer, and the
 * shared replay reads. What one stream costs the API stays small and bounded, whatever the
 * number of viewers.
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { EventRecord } from '../core/domain.js';
import { RollgateError, errorMessage } from '../core/errors.js';
import type { EventBus } from '../engine/events.js';
import type { Logger } from '../engine/logger.js';
import { EventStream, type CloseReason } from './event-stream.js';
import { KEEP_ALIVE, SharedReplays, eventFrame, type Frame } from './event-replay.js';

const Count = (max: number) => z.number().int().min(1).max(max);
export const EventStreamLimits = z
  .object({
    /** Open streams per principal (user). */
    perPrincipal: Count(100_000).default(20),
    /** Open streams on this server. */
    total: Count(1_000_000).default(1000),
    /** Events a replay sends at most (the newest ones). */
    replayMaxEvents: Count(100_000).default(1000),
    /** How old a replayed event may be. */
    replayMaxAgeMs: Count(365 * 24 * 3_600_000).default(3_600_000),
    /** Live bytes waiting for one client past which its stream is closed. */
    maxBufferedBytes: z.number().int().min(1024).default(1024 * 1024),
    /** The one timer's beat: keep-alives to idle streams; a stream that took nothing for two beats is cut off. */
    keepAliveMs: z.number().int().min(10).default(15_000),
  })
  .strict();
export type EventStreamLimits = z.output<typeof EventStreamLimits>;
export type EventStreamConfig = z.input<typeof EventStreamLimits>;

/** Live frames kept so that a shared replay read can be reused by a stream that opens a moment later. */
const RECENT_FRAMES = 512;
/** Replays started per event-loop turn: about this many milliseconds' worth. */
const TURN_MS = 2;

export class EventHub {
  readonly limits: EventStreamLimits;
  private readonly streams = new Set<EventStream>();
  private readonly perPrincipal = new Map<string, number>();
  private readonly replays: SharedReplays;
  /** Events delivered so far, and the last RECENT_FRAMES of them (recent[i] has seq recentFirst + i). */
  private seq = 0;
  private recent: Frame[] = [];
  private recentFirst = 1;
  private timer: NodeJS.Timeout | null = null;
  private turns: Array<() => void> = [];

  constructor(
    bus: EventBus,
    read: (after: number, limit: number) => Promise<EventRecord[]>,
    private readonly log: Logger,
    config: EventStreamConfig = {},
  ) {
    const parsed = EventStreamLimits.safeParse(config);
    if (!parsed.success) throw new RollgateError('invalid_input', `invalid event stream limits: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'limits'}: ${i.message}`).join('; ')}`);
    this.limits = parsed.data;
    this.replays = new SharedReplays(read, { maxEvents: this.limits.replayMaxEvents, maxAgeMs: this.limits.replayMaxAgeMs });
    bus.subscribe((e) => this.deliver(e));
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Opens a stream for `principal` resuming after `after`, or refuses with 429 past a cap. */
  open(after: number | 'latest', principal: string): EventStream {
    const { perPrincipal, total } = this.limits;
    if (this.streams.size >= total) {
      throw new RollgateError('too_many_requests', `this server already carries ${total} event streams, its limit; close other event streams (dashboards, \`--wait\` commands) and try again`);
    }
    const mine = this.perPrincipal.get(principal) ?? 0;
    if (mine >= perPrincipal) {
      throw new RollgateError('too_many_requests', `${principal} already has ${mine} event streams open, the limit per principal is ${perPrincipal}; close other event streams (browser tabs, \`--wait\` commands) and try again`);
    }
    this.perPrincipal.set(principal, mine + 1);
    const stream = new EventStream({
      after: after === 'latest' ? 0 : after,
      maxBufferedBytes: this.limits.maxBufferedBytes,
      onClose: (reason, buffered) => this.closed(stream, principal, reason, buffered),
    });
    this.streams.add(stream);
    this.ensureTimer();

    if (after === 'latest') {
      stream.startReplay([], []);
      return stream;
    }
    const shared = this.replays.get(after, this.seq, (since) => this.covers(since));
    // What was delivered after that read started and before this stream listened (empty unless the read is shared).
    const since = this.recent.slice(Math.max(0, shared.seq + 1 - this.recentFirst));
    shared.result.then(
      (r) => this.inTurn(() => stream.startReplay(r.frames, since)),
      (e: unknown) => {
        this.log.error('event replay failed', { error: errorMessage(e), after });
        stream.close('server');
      },
    );
    return stream;
  }

  /**
   * Runs `f` in a later turn of the event loop, a few milliseconds' worth per turn: a shared read
   * resolves for hundreds of streams at once, and starting all their replays in one go would keep
   * every other request waiting.
   */
  private inTurn(f: () => void): void {
    this.turns.push(f);
    if (this.turns.length === 1) setImmediate(() => this.runTurn());
  }

  private runTurn(): void {
    const until = performance.now() + TURN_MS;
    let i = 0;
    while (i < this.turns.length && (i === 0 || performance.now() < until)) this.turns[i++]!();
    this.turns.splice(0, i);
    if (this.turns.length > 0) setImmediate(() => this.runTurn());
  }

  /** Closes every stream (server stop). */
  close(): void {
    for (const s of [...this.streams]) s.close('server');
    this.stopTimer();
  }

  private deliver(e: EventRecord): void {
    this.seq++;
    if (this.streams.size === 0) {
      // Nobody listens: nothing to serialize, and no read may be reused past this event.
      this.recent = [];
      this.recentFirst = this.seq + 1;
      this.replays.clear();
      return;
    }
    const frame = eventFrame(e, true);
    this.recent.push(frame);
    if (this.recent.length > RECENT_FRAMES) {
      this.recent.shift();
      this.recentFirst++;
    }
    for (const s of this.streams) s.push(frame);
  }

  /** Whether every event delivered after `since` is in `recent`. */
  private covers(since: number): boolean {
    return since + 1 >= this.recentFirst;
  }

  private closed(stream: EventStream, principal: string, reason: CloseReason, buffered: number): void {
    if (!this.streams.delete(stream)) return;
    const n = (this.perPrincipal.get(principal) ?? 1) - 1;
    if (n <= 0) this.perPrincipal.delete(principal);
    else this.perPrincipal.set(principal, n);
    if (reason === 'slow') this.log.warn('event stream closed: its client does not read', { actor: principal, bufferedBytes: buffered, limit: this.limits.maxBufferedBytes });
    if (this.streams.size === 0) this.stopTimer();
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const s of this.streams) s.tick(KEEP_ALIVE);
    }, this.limits.keepAliveMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
