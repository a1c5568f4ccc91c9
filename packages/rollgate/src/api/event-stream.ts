/**
 * One client's event stream: the replay, then live frames, as a byte stream the HTTP server
 * pulls as fast as the socket takes it. Frames wait here (shared buffers, never copied) until
 * the socket wants more; live bytes that wait are bounded, and a client that does not read
 * past that bound is cut off, so a stalled reader cannot grow the server's memory.
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
  onClose(reason: CloseReason, bufferedBytes: number): void;
}

export class EventStream {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private queue: Array<Frame | undefined> = [];
  private head = 0;
  /** Live frames that came before the replay was read: they go after it. */
  private early: Frame[] | null = [];
  private liveBytes = 0;
  private lastId: number;
  private closed = false;

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
    for (const f of replay) this.add(f);
    for (const f of since) this.add(f);
    for (const f of early) {
      this.liveBytes -= f.bytes.length;
      this.add(f);
    }
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

  /** A keep-alive, only to a live stream with nothing waiting (anything else keeps it alive already). */
  keepAlive(f: Frame): void {
    if (this.closed || this.early !== null || this.head < this.queue.length) return;
    this.push(f);
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    const buffered = this.liveBytes;
    this.queue = [];
    this.head = 0;
    this.early = null;
    this.liveBytes = 0;
    try {
      // An error (not a close) makes the HTTP layer drop the connection at once, queued bytes and all.
      if (reason !== 'client') this.controller.error(new Error(reason === 'slow' ? 'event stream client reads too slowly' : 'event stream closed by the server'));
    } catch {
      // already cancelled by the client
    }
    this.opts.onClose(reason, buffered);
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
    while (!this.closed && this.head < this.queue.length && (this.controller.desiredSize ?? 0) > 0) {
      const f = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (f.live) this.liveBytes -= f.bytes.length;
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
