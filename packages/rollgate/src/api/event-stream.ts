/**
 * One client's event stream: the replay, then live frames, as a byte stream the HTTP server
 * pulls as fast as the socket takes it. Frames wait here (shared buffers, never copied) until
 * the socket wants more. A client that stops reading is cut off, so that it cannot grow the
 * server's memory: at once when its waiting live bytes pass the bound, and when it has taken
 * nothing of what waits for two keep-alive intervals (a stalled replay pins shared frames).
 */
import type { Frame } from './event-replay.js';

export type CloseReason = 'client' | 'slow' | 'server';

export interface EventStreamOptions {
  /** The id the client resumes after: frames with an id at or below it are not sent. */
  after: number;
  /** Live bytes waiting for the client past which the stream is closed. */
  maxBufferedBytes: number;
  /** Bytes handed to the HTTP layer ahead of the socket. */
  highWaterMark?: number;
  /** Drops the connection at once (the HTTP server's socket); without it the byte stream errors, which the server logs. */
  drop?: () => void;
  onClose(reason: CloseReason, bufferedBytes: number): void;
}

/** Keep-alive intervals without progress after which a stream with bytes waiting is cut off. */
const STALLED_TICKS = 2;

export class EventStream {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
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
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c;
        },
        pull: () => this.drain(),
        cancel: () => this.close('client'),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: opts.highWaterMark ?? 64 * 1024 }),
    );
  }

  get isClosed(): boolean {
    return this.closed;
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
    } else {
      this.add(f);
      this.drain();
    }
    this.checkBound();
  }

  /** The shared timer's beat: cut off a client that took nothing of what waits; keep an idle one alive. */
  tick(keepAlive: Frame): void {
    if (this.closed || this.early !== null) return;
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
    const buffered = this.liveBytes;
    this.replay = [];
    this.queue = [];
    this.head = 0;
    this.early = null;
    this.liveBytes = 0;
    if (reason !== 'client') {
      // Dropped, not ended: an end would wait for the client to read what is queued.
      if (this.opts.drop) this.opts.drop();
      else {
        try {
          this.controller.error(new Error(reason === 'slow' ? 'event stream client reads too slowly' : 'event stream closed by the server'));
        } catch {
          // already cancelled by the client
        }
      }
    }
    this.opts.onClose(reason, buffered);
  }

  private waiting(): boolean {
    return this.replayAt < this.replay.length || this.head < this.queue.length;
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
    while (!this.closed && this.early === null && (this.controller.desiredSize ?? 0) > 0) {
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
      this.controller.enqueue(f.bytes);
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
