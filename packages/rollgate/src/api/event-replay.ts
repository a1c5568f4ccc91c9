/**
 * What an event stream replays before it goes live: the events after the client's id, bounded
 * by count and by age, with a `replay.truncated` marker first when the bound cut some off.
 * The frames are serialized once per read and shared by every stream that asks for the same
 * range at about the same time.
 */
import type { EventRecord } from '../core/domain.js';

/** One Server-Sent Event, encoded once and written as is to every stream that carries it. */
export interface Frame {
  /** The event id (null for keep-alives): a stream skips ids it has already sent. */
  id: number | null;
  bytes: Buffer;
  /** Counts toward a stream's buffered-bytes bound (live frames); replay frames are shared and bounded by the replay limit. */
  live: boolean;
}

export const TRUNCATED_EVENT = 'replay.truncated';

export interface Truncation {
  /** The id the client asked to resume after. */
  requestedAfter: number;
  /** The id the replay resumes after: events in (requestedAfter, resumedAfter] were skipped. */
  resumedAfter: number;
  reason: 'count' | 'age';
}

export interface BoundedReplay {
  events: EventRecord[];
  truncated: Truncation | null;
}

export interface ReplayBounds {
  maxEvents: number;
  maxAgeMs: number;
}

/**
 * Cuts `newest` (the newest maxEvents+1 events after `after`, oldest first) to the bounds.
 * One more than the limit is read so that a cut by count is known without a second query.
 */
export function boundReplay(after: number, newest: EventRecord[], bounds: ReplayBounds, nowMs: number): BoundedReplay {
  let start = 0;
  let reason: Truncation['reason'] | null = null;
  if (newest.length > bounds.maxEvents) {
    start = newest.length - bounds.maxEvents;
    reason = 'count';
  }
  // Times are ISO UTC strings of one format, so they compare as text; ids order the events.
  const cutoff = new Date(nowMs - bounds.maxAgeMs).toISOString();
  for (let i = newest.length - 1; i >= start; i--) {
    if (newest[i]!.at < cutoff) {
      start = i + 1;
      reason = 'age';
      break;
    }
  }
  if (reason === null) return { events: newest, truncated: null };
  return { events: newest.slice(start), truncated: { requestedAfter: after, resumedAfter: newest[start - 1]!.id, reason } };
}

export function eventFrame(e: EventRecord, live: boolean): Frame {
  return { id: e.id, bytes: Buffer.from(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`), live };
}

/** The marker carries resumedAfter as its id, so a reconnecting EventSource resumes from there. */
export function truncatedFrame(t: Truncation): Frame {
  return { id: t.resumedAfter, bytes: Buffer.from(`id: ${t.resumedAfter}\nevent: ${TRUNCATED_EVENT}\ndata: ${JSON.stringify(t)}\n\n`), live: false };
}

export const KEEP_ALIVE: Frame = { id: null, bytes: Buffer.from(': keep-alive\n\n'), live: true };

export interface ReplayFrames {
  /** The marker first when cut, then the events, oldest first, packed into chunks of about REPLAY_CHUNK_BYTES. */
  frames: Frame[];
}

/**
 * A replay goes out in chunks of this size: one socket write per chunk instead of per event,
 * which is what keeps a burst of viewers replaying at once from stalling the API.
 */
export const REPLAY_CHUNK_BYTES = 64 * 1024;

/** Packs frames into chunks (each carries the id of its last event), built once and shared. */
export function packFrames(frames: readonly Frame[], chunkBytes = REPLAY_CHUNK_BYTES): Frame[] {
  const out: Frame[] = [];
  let part: Buffer[] = [];
  let size = 0;
  let lastId: number | null = null;
  const flush = () => {
    if (part.length === 0) return;
    out.push({ id: lastId, bytes: part.length === 1 ? part[0]! : Buffer.concat(part, size), live: false });
    part = [];
    size = 0;
  };
  for (const f of frames) {
    if (size > 0 && size + f.bytes.length > chunkBytes) flush();
    part.push(f.bytes);
    size += f.bytes.length;
    if (f.id !== null) lastId = f.id;
  }
  flush();
  return out;
}

interface Entry {
  /** The event bus's delivery count when the read started. */
  seq: number;
  startedAt: number;
  result: Promise<ReplayFrames>;
}

/**
 * Replay reads shared by range: streams that ask for the same `after` within `shareMs` of a read
 * get that read's frames, as long as every event delivered since it started is still known to
 * the caller (`covers`), who hands those to the stream after the replay.
 */
export class SharedReplays {
  private readonly entries = new Map<number, Entry>();

  constructor(
    private readonly read: (after: number, limit: number) => Promise<EventRecord[]>,
    private readonly bounds: ReplayBounds,
    private readonly shareMs = 1000,
    private readonly maxEntries = 32,
  ) {}

  get(after: number, seq: number, covers: (sinceSeq: number) => boolean, nowMs = Date.now()): { seq: number; result: Promise<ReplayFrames> } {
    const hit = this.entries.get(after);
    if (hit && nowMs - hit.startedAt < this.shareMs && covers(hit.seq)) return hit;
    const entry: Entry = { seq, startedAt: nowMs, result: this.load(after, nowMs) };
    this.entries.delete(after);
    this.entries.set(after, entry);
    // Oldest first in a Map: drop the oldest ranges past the bound.
    for (const k of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(k);
    }
    entry.result.catch(() => {
      if (this.entries.get(after) === entry) this.entries.delete(after);
    });
    return entry;
  }

  /** Forget every read (nothing holds their frames any more). */
  clear(): void {
    this.entries.clear();
  }

  private async load(after: number, nowMs: number): Promise<ReplayFrames> {
    const newest = await this.read(after, this.bounds.maxEvents + 1);
    const r = boundReplay(after, newest, this.bounds, nowMs);
    const frames = r.events.map((e) => eventFrame(e, false));
    if (r.truncated) frames.unshift(truncatedFrame(r.truncated));
    return { frames: packFrames(frames) };
  }
}
