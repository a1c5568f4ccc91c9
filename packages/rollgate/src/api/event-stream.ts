/**
 * One client's event stream: the replay, then live frames, written to its connection (a
 * StreamSink: the Node response itself, api/stream-response.ts) as fast as the socket takes
 * them. A frame is one shared Buffer, encoded once for every stream that carries it: while the
 * socket keeps up it is written at once; when the socket says "full" (write returns false)
 * frames wait here, by reference, until it drains. A client that stops reading is cut off, so
 * that it cannot grow the server's memory: at once when its waiting live bytes pass the bound,
 * and when it has taken nothing for two keep-alive intervals (a stalled replay pins shared frames).
 */
import type { Frame } from './event-replay.js';

export type CloseReason = 'client' | 'slow' | 'server';

/** Where a stream's bytes go: the client's connection. */
export interface StreamSink {
  /** Hands bytes to the connection; false once its buffer is past its mark (more waits for `EventStream.resume`). */
  write(bytes: Uint8Array): boolean;
  /** Bytes the connection holds that the client has not taken yet. */
  readonly pending: number;
  /** Drops the connection at once: an end would wait for the client to read what is queued. */
  drop(reason: Exclude<CloseReason, 'client'>): void;
}

export interface EventStreamOptions {
  /** The id the client resumes after: frames with an id at or below it are not sent. */
  after: number;
  /** Live bytes waiting for the client past which the stream is closed. */
  maxBufferedBytes: number;
  onClose(reason: CloseReason, bufferedBytes: number): void;
}

/** Keep-alive intervals without progress after which a stream with bytes waiting is cut off. */
const STALLED_TICKS = 2;

export class EventStream {
  private sink: StreamSink | null = null;
  /** Whether the sink takes more now (false until attached, and while its buffer is full). */
  private writable = false;
  /** The shared replay frames and how far this client has taken them. */
  private replay: readonly Frame[] = [];
  private replayAt = 0;
  /** Live frames after the replay. */
  private queue: Array<Frame | undefined> = [];
  private head = 0;
  /** Live frames that came before the replay was read: they go after it. */
  private early: Frame[] | null = [];
  private liveBytes = 0;
  private lastId: number;
  private closed = false;
  private progressed = false;
  private stalls = 0;

  constructor(private readonly opts: EventStreamOptions) {
    this.lastId = opts.after;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** What this client costs the server now: live bytes waiting here and bytes the connection holds. */
  get bufferedBytes(): number {
    return this.liveBytes + (this.sink?.pending ?? 0);
  }

  /** The connection is ready (headers sent): what waits goes out, then every frame as it comes. */
  attach(sink: StreamSink): void {
    if (this.closed || this.sink) return;
    this.sink = sink;
    this.writable = true;
    this.drain();
  }

  /** The connection drained: write what waits. */
  resume(): void {
    if (this.closed || !this.sink) return;
    this.writable = true;
    this.progressed = true;
    this.drain();
  }

  /** The replay is read: it goes first, then what was delivered meanwhile (`since`, then early arrivals). */
  startReplay(replay: readonly Frame[], since: readonly Frame[]): void {
    if (this.closed || this.early === null) return;
    const early = this.early;
    this.early = null;
    this.liveBytes = 0;
    this.replay = replay;
    const lastReplayed = replay.length ? replay[replay.length - 1]!.id : null;
    if (lastReplayed !== null && lastReplayed > this.lastId) this.lastId = lastReplayed;
    for (const f of since) this.add(f);
    for (const f of early) this.add(f);
    this.drain();
    this.checkBound();
  }

  /** A live frame (an event, delivered once to every stream). */
  push(f: Frame): void {
    if (this.closed) return;
    if (this.early !== null) {
      this.early.push(f);
      this.liveBytes += f.bytes.length;
    } else if (this.writable && this.head === this.queue.length && this.replayAt === this.replay.length) {
      // The common case: nothing waits and the socket takes more: straight to it.
      if (f.id !== null) {
        if (f.id <= this.lastId) return;
        this.lastId = f.id;
      }
      this.progressed = true;
      if (!this.sink!.write(f.bytes)) this.writable = false;
      return;
    } else {
      this.add(f);
      this.drain();
    }
    this.checkBound();
  }

  /** The shared timer's beat: cut off a client that took nothing of what waits; keep an idle one alive. */
  tick(keepAlive: Frame): void {
    if (this.closed || this.early !== null || !this.sink) return;
    if (this.waiting()) {
      this.stalls = this.progressed ? 0 : this.stalls + 1;
      this.progressed = false;
      if (this.stalls >= STALLED_TICKS) this.close('slow');
      return;
    }
    this.stalls = 0;
    this.progressed = false;
    this.push(keepAlive);
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    const buffered = this.bufferedBytes;
    this.replay = [];
    this.queue = [];
    this.head = 0;
    this.early = null;
    this.liveBytes = 0;
    if (reason !== 'client') this.sink?.drop(reason);
    this.opts.onClose(reason, buffered);
  }

  /** Whether something waits for the client: frames here, or a full connection. */
  private waiting(): boolean {
    return !this.writable || this.replayAt < this.replay.length || this.head < this.queue.length;
  }

  private add(f: Frame): void {
    if (f.id !== null) {
      if (f.id <= this.lastId) return;
      this.lastId = f.id;
    }
    this.queue.push(f);
    if (f.live) this.liveBytes += f.bytes.length;
  }

  private drain(): void {
    while (!this.closed && this.writable && this.early === null) {
      let f: Frame;
      if (this.replayAt < this.replay.length) {
        f = this.replay[this.replayAt++]!;
        if (this.replayAt === this.replay.length) {
          // Replayed: let go of the shared read.
          this.replay = [];
          this.replayAt = 0;
        }
      } else if (this.head < this.queue.length) {
        f = this.queue[this.head]!;
        this.queue[this.head++] = undefined;
        if (f.live) this.liveBytes -= f.bytes.length;
      } else break;
      this.progressed = true;
      if (!this.sink!.write(f.bytes)) this.writable = false;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private checkBound(): void {
    if (!this.closed && this.liveBytes > this.opts.maxBufferedBytes) this.close('slow');
  }
}
