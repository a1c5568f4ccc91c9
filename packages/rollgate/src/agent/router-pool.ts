/**
 * The router's upstream HTTP/1.1 client: keep-alive connections per backend, reused LIFO
 * (the most recently used socket is the one least likely to have been closed by the
 * backend's idle timeout). Hand-written on net.Socket because it is measurably cheaper:
 * proxy CPU per small request on the bench machine was ~95 µs with http.request and a
 * keep-alive Agent, ~60 µs with undici's Pool.dispatch, ~48 µs with this (http-proxy ~115 µs).
 * One write per request head, one string split per response head, no stream per request.
 */
import net from 'node:net';
import { ChunkedDecoder, MAX_HEAD_BYTES, parseResponseHead, type BodySink, type ResponseHead } from './router-http1.js';

/** A coarse clock (ms, performance.now() timebase) refreshed per request and by the sweep. */
export interface Clock {
  now: number;
}

export type UpstreamFailure = 'connect' | 'timeout' | 'protocol';

/**
 * The request side that a connection reports to. Body buffers passed to it (`onBodyData`,
 * `onUpstreamEnd`) are views of a shared read buffer, valid only during the call: copy to keep.
 */
export interface UpstreamSink extends BodySink {
  onUpstreamHead(head: ResponseHead): void;
  /** The response is complete; `last` is its final body bytes when they came with the end. */
  onUpstreamEnd(last: Buffer | null): void;
  /**
   * The exchange failed. `responded` is true when any response byte had arrived (the
   * request reached the backend, so it must not be retried).
   */
  onUpstreamError(kind: UpstreamFailure, message: string, responded: boolean): void;
}

const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');
/** Every upstream read lands here (one thread, consumed synchronously). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
/** A backend on this host accepts or refuses at once; a connect that hangs means it is gone. */
const CONNECT_TIMEOUT_MS = 5000;
/** Used when the backend gives no Keep-Alive hint: below the common 5 s server idle timeouts. */
const DEFAULT_IDLE_MS = 2000;

const enum St {
  Idle,
  Head,
  Body,
  Closed,
}
const enum Mode {
  None,
  Length,
  Chunked,
  UntilClose,
}

export class UpstreamConn {
  readonly socket: net.Socket;
  sink: UpstreamSink | null = null;
  private st = St.Idle;
  private mode = Mode.None;
  private remaining = 0;
  private partial: Buffer | null = null;
  private decoder: ChunkedDecoder | null = null;
  private isHead = false;
  private reusable = true;
  private gotBytes = false;
  private failure: UpstreamFailure | null = null;
  private failureMessage = '';
  private keepAliveMs = DEFAULT_IDLE_MS;
  /** Request body still being written: the connection cannot be reused before it ends. */
  bodyPending = false;
  sentAt = 0;
  lastActive = 0;
  idleDeadline = 0;

  constructor(private readonly pool: UpstreamPool) {
    // `onread` hands each read straight to us in one shared buffer, skipping the Readable
    // stream machinery; whatever must outlive the call is copied (see UpstreamSink).
    const s = net.connect({ port: pool.port, host: pool.host, onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) } });
    s.setNoDelay(true);
    this.socket = s;
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (this.failure === null) {
        this.failure = 'connect';
        this.failureMessage = e.code ?? e.message;
      }
    });
    s.on('close', () => this.onClose());
  }

  /** Sends one request head; the response is reported to `sink`. */
  start(sink: UpstreamSink, head: string, isHead: boolean, now: number): void {
    this.sink = sink;
    this.st = St.Head;
    this.isHead = isHead;
    this.gotBytes = false;
    this.sentAt = now;
    this.lastActive = now;
    this.socket.write(head, 'latin1');
  }

  /** Drops the connection without reporting to the sink (the client went away). */
  abandon(): void {
    this.sink = null;
    this.destroy();
  }

  destroy(): void {
    if (this.st === St.Closed) return;
    this.st = St.Closed;
    this.pool.forget(this);
    this.socket.destroy();
  }

  /** Whether an idle connection may take a request now. */
  usable(now: number): boolean {
    return this.st === St.Idle && now < this.idleDeadline && !this.socket.destroyed;
  }

  get idle(): boolean {
    return this.st === St.Idle;
  }

  /** Fails an exchange that has waited too long (called by the pool's sweep). */
  timeout(kind: UpstreamFailure, message: string): void {
    this.failure = kind;
    this.failureMessage = message;
    this.socket.destroy();
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    this.onData(READ_BUFFER === buf ? READ_BUFFER.subarray(0, n) : Buffer.from(buf.buffer, buf.byteOffset, n));
    return !this.socket.isPaused();
  }

  private onData(d: Buffer): void {
    const sink = this.sink;
    if (sink === null || this.st === St.Idle) {
      // Bytes nobody asked for (or for a request the client abandoned): the stream is unusable.
      this.reusable = false;
      this.destroy();
      return;
    }
    this.gotBytes = true;
    this.lastActive = this.pool.clock.now;
    let buf = d;
    if (this.st === St.Head) {
      let from = 0;
      if (this.partial !== null) {
        from = Math.max(0, this.partial.length - 3);
        buf = Buffer.concat([this.partial, d]); // a fresh copy, unlike `d`
        this.partial = null;
      }
      for (;;) {
        const end = buf.indexOf(CRLF2, from);
        if (end < 0) {
          if (buf.length > MAX_HEAD_BYTES) return this.fail('protocol', 'response head larger than 64 KiB');
          // Keep a copy: `buf` may still be a view of the shared read buffer.
          this.partial = buf.buffer === READ_BUFFER.buffer ? Buffer.from(buf) : buf;
          return;
        }
        const head = parseResponseHead(buf.toString('latin1', 0, end));
        if (typeof head === 'string') return this.fail('protocol', head);
        buf = buf.subarray(end + 4);
        if (head.status < 200) {
          if (head.status === 101) return this.fail('protocol', 'unexpected 101 Switching Protocols');
          // Informational (100, 103): skip and read the final response.
          from = 0;
          if (buf.length === 0) return;
          continue;
        }
        this.beginBody(head);
        sink.onUpstreamHead(head);
        if (this.sink !== sink) return; // the exchange gave up (e.g. headers the client side refused)
        if (this.mode === Mode.None) {
          if (buf.length > 0) this.reusable = false;
          this.complete(sink, null);
          return;
        }
        if (buf.length === 0) return;
        break;
      }
    }
    this.body(sink, buf);
  }

  private beginBody(head: ResponseHead): void {
    this.st = St.Body;
    this.reusable = !head.close;
    // Stop reusing well before the backend's own idle timeout (`timeout=0`: never reuse after idling).
    if (head.keepAliveMs >= 0) this.keepAliveMs = head.keepAliveMs >= 4000 ? head.keepAliveMs - 2000 : head.keepAliveMs / 2;
    const s = head.status;
    if (this.isHead || s === 204 || s === 304) this.mode = Mode.None;
    else if (head.chunked) {
      this.mode = Mode.Chunked;
      if (this.decoder === null) this.decoder = new ChunkedDecoder();
      else this.decoder.reset();
    } else if (head.contentLength >= 0) {
      this.mode = head.contentLength === 0 ? Mode.None : Mode.Length;
      this.remaining = head.contentLength;
    } else {
      this.mode = Mode.UntilClose;
      this.reusable = false;
    }
  }

  private body(sink: UpstreamSink, buf: Buffer): void {
    switch (this.mode) {
      case Mode.Length: {
        if (buf.length >= this.remaining) {
          if (buf.length > this.remaining) {
            this.reusable = false; // more bytes than announced: do not trust this stream again
            buf = buf.subarray(0, this.remaining);
          }
          this.remaining = 0;
          this.complete(sink, buf);
          return;
        }
        this.remaining -= buf.length;
        if (!sink.onBodyData(buf)) this.socket.pause();
        return;
      }
      case Mode.Chunked: {
        const dec = this.decoder as ChunkedDecoder;
        dec.paused = false;
        const used = dec.execute(buf, sink);
        if (used < 0) return this.fail('protocol', 'malformed chunked body');
        if (this.sink !== sink) return;
        if (dec.done) {
          if (used < buf.length) this.reusable = false;
          this.complete(sink, null);
          return;
        }
        if (dec.paused) this.socket.pause();
        return;
      }
      case Mode.UntilClose:
        if (!sink.onBodyData(buf)) this.socket.pause();
        return;
      case Mode.None:
        return;
    }
  }

  private complete(sink: UpstreamSink, last: Buffer | null): void {
    this.sink = null;
    this.st = St.Idle;
    this.mode = Mode.None;
    if (this.socket.isPaused()) this.socket.resume();
    this.pool.release(this, this.reusable && !this.bodyPending);
    sink.onUpstreamEnd(last);
  }

  private fail(kind: UpstreamFailure, message: string): void {
    this.failure = kind;
    this.failureMessage = message;
    this.socket.destroy();
    this.onClose();
  }

  private onClose(): void {
    const wasState = this.st;
    this.st = St.Closed;
    this.pool.forget(this);
    const sink = this.sink;
    if (sink === null) return;
    this.sink = null;
    if (wasState === St.Body && this.mode === Mode.UntilClose && this.failure === null) {
      sink.onUpstreamEnd(null);
      return;
    }
    const kind = this.failure ?? 'connect';
    const msg = this.failure !== null ? this.failureMessage : this.gotBytes ? 'upstream closed the connection mid-response' : 'upstream closed the connection before answering';
    sink.onUpstreamError(kind, msg, this.gotBytes);
  }

  /** Called by the pool when this idle connection is put back: when to stop trusting it. */
  armIdle(now: number): void {
    this.idleDeadline = now + this.keepAliveMs;
  }
}

export class UpstreamPool {
  private readonly idleConns: UpstreamConn[] = [];
  readonly conns = new Set<UpstreamConn>();
  /** Set by releaseBackend: connections close as they finish instead of idling. */
  private draining = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly clock: Clock,
  ) {}

  acquire(): UpstreamConn {
    this.draining = false;
    const now = this.clock.now;
    const idle = this.idleConns;
    while (idle.length > 0) {
      const c = idle.pop() as UpstreamConn;
      if (c.usable(now)) return c;
      c.destroy();
    }
    const c = new UpstreamConn(this);
    this.conns.add(c);
    return c;
  }

  release(c: UpstreamConn, reusable: boolean): void {
    if (!reusable || this.draining) {
      c.destroy();
      return;
    }
    c.armIdle(this.clock.now);
    this.idleConns.push(c);
  }

  forget(c: UpstreamConn): void {
    this.conns.delete(c);
    const i = this.idleConns.indexOf(c);
    if (i >= 0) this.idleConns.splice(i, 1);
  }

  /** Closes idle connections now and busy ones when they finish (the backend is leaving). */
  closeIdle(): void {
    this.draining = true;
    for (const c of [...this.idleConns]) c.destroy();
    this.idleConns.length = 0;
  }

  get size(): number {
    return this.conns.size;
  }

  /** Periodic housekeeping: expire idle connections, time out stuck exchanges. */
  sweep(now: number, timeoutMs: number): void {
    for (const c of [...this.conns]) {
      if (c.idle) {
        if (now >= c.idleDeadline) c.destroy();
      } else if (c.socket.connecting && now - c.sentAt > CONNECT_TIMEOUT_MS) {
        // Nothing was sent yet, so this counts as a connection failure (and may be retried).
        c.timeout('connect', `could not connect within ${CONNECT_TIMEOUT_MS} ms`);
      } else if (now - c.lastActive > timeoutMs) {
        c.timeout('timeout', `no response from the upstream within ${timeoutMs} ms`);
      }
    }
  }

  destroyAll(): void {
    for (const c of [...this.conns]) c.abandon();
    this.idleConns.length = 0;
  }
}
