/**
 * One proxied HTTP request: reads the client's head once (building the upstream head and
 * picking out what routing needs in the same pass), sends it to the chosen backend,
 * streams the response back, retries on another backend when that is safe, and accounts
 * for metrics, in-flight counts and outlier state. One object per request, no closures
 * on the common path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { CompiledService, PickTarget, VersionSlot } from './balancer.js';
import type { VersionCounters } from './metrics.js';
import type { OutlierDetector } from './outlier.js';
import type { BackendState } from './router-backend.js';
import type { ResponseHead } from './router-http1.js';
import type { Clock, UpstreamConn, UpstreamFailure, UpstreamSink } from './router-pool.js';

/** Bodies up to this size are sent with the response head in one write. */
const SMALL_BODY = 16 * 1024;

export interface ExchangeContext {
  readonly clock: Clock;
  readonly detector: OutlierDetector;
  /** Extra attempts on another backend after a connection failure. */
  readonly maxRetries: number;
}

/** Per-request facts read from the client's head, in the same pass that builds the upstream head. */
export class RequestHead {
  /** Upstream request head (request line + fields + blank line). */
  head = '';
  /** Host header as sent (with port), or null. */
  host: string | null = null;
  pin: string | null = null;
  cookie: string | null = null;
  hasBody = false;
  chunkedBody = false;
  idempotent = false;
  isHead = false;

  constructor(req: IncomingMessage) {
    const raw = req.rawHeaders;
    let h = '';
    let xff: string | null = null;
    let hasProto = false;
    let hasFwdHost = false;
    let connection: string | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      const value = raw[i + 1] as string;
      switch (name.length) {
        case 2:
          if (name.toLowerCase() === 'te') continue;
          break;
        case 4:
          if (this.host === null && name.toLowerCase() === 'host') this.host = value;
          break;
        case 6: {
          const l = name.toLowerCase();
          if (l === 'cookie') this.cookie = this.cookie === null ? value : `${this.cookie}; ${value}`;
          // The listener already answered `100-continue`; the upstream must not be asked again.
          else if (l === 'expect') continue;
          break;
        }
        case 7: {
          const l = name.toLowerCase();
          if (l === 'upgrade' || l === 'trailer') continue;
          break;
        }
        case 10: {
          const l = name.toLowerCase();
          if (l === 'connection') {
            connection = value;
            continue;
          }
          if (l === 'keep-alive') continue;
          break;
        }
        case 14:
          if (name.toLowerCase() === 'content-length' && value !== '0') this.hasBody = true;
          break;
        case 15:
          if (name.toLowerCase() === 'x-forwarded-for') {
            xff = xff === null ? value : `${xff}, ${value}`;
            continue;
          }
          break;
        case 16: {
          const l = name.toLowerCase();
          if (l === 'proxy-connection') continue;
          if (l === 'x-forwarded-host') hasFwdHost = true;
          break;
        }
        case 17: {
          const l = name.toLowerCase();
          if (l === 'transfer-encoding') {
            // Node has decoded the body; it is re-chunked towards the upstream.
            this.hasBody = true;
            this.chunkedBody = true;
            continue;
          }
          if (l === 'x-forwarded-proto') hasProto = true;
          break;
        }
        case 18:
          if (this.pin === null && name.toLowerCase() === 'x-rollgate-version') this.pin = value;
          break;
      }
      h += name + ': ' + value + '\r\n';
    }
    if (connection !== null && hasExtraConnectionTokens(connection)) h = dropNamedFields(h, connection);
    const remote = req.socket.remoteAddress ?? '';
    h += 'x-forwarded-for: ' + (xff === null ? remote : xff + ', ' + remote) + '\r\n';
    // Set by a proxy in front of us (TLS terminator) they describe the client's view better than we can.
    if (!hasProto) h += 'x-forwarded-proto: http\r\n';
    if (!hasFwdHost && this.host !== null) h += 'x-forwarded-host: ' + this.host + '\r\n';
    if (this.chunkedBody) h += 'transfer-encoding: chunked\r\n';
    const m = req.method ?? 'GET';
    this.isHead = m === 'HEAD';
    this.idempotent = m === 'GET' || this.isHead || m === 'OPTIONS' || m === 'PUT' || m === 'DELETE' || m === 'TRACE';
    this.head = m + ' ' + (req.url ?? '/') + ' HTTP/1.1\r\n' + h;
  }
}

function hasExtraConnectionTokens(v: string): boolean {
  for (const t of v.split(',')) {
    const l = t.trim().toLowerCase();
    if (l !== '' && l !== 'keep-alive' && l !== 'close' && l !== 'upgrade') return true;
  }
  return false;
}

/** Removes the fields a Connection header names (they are hop-by-hop, RFC 9110 §7.6.1). */
function dropNamedFields(h: string, connection: string): string {
  const names = new Set(connection.split(',').map((t) => t.trim().toLowerCase()));
  return h
    .split('\r\n')
    .filter((line) => line === '' || !names.has(line.slice(0, line.indexOf(':')).toLowerCase()))
    .join('\r\n');
}

/** Reads one cookie's value out of a Cookie header without a regex or a map. */
export function cookieValue(header: string, name: string): string | null {
  let from = 0;
  for (;;) {
    const i = header.indexOf(name, from);
    if (i < 0) return null;
    const before = i === 0 ? 32 : header.charCodeAt(i - 1);
    if ((before === 32 || before === 59) && header.charCodeAt(i + name.length) === 61) {
      const start = i + name.length + 1;
      const end = header.indexOf(';', start);
      const v = (end < 0 ? header.slice(start) : header.slice(start, end)).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
    from = i + name.length;
  }
}

export function sendJsonError(res: ServerResponse, status: number, code: string, message: string, extra?: string[]): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  const h = ['content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store'];
  if (extra) h.push(...extra);
  res.writeHead(status, h);
  res.end(body);
}

export class Exchange implements UpstreamSink, PickTarget {
  backend: BackendState | null = null;
  slot: VersionSlot | null = null;
  weighted = false;
  private conn: UpstreamConn | null = null;
  private attempts = 0;
  private tried: BackendState[] | null = null;
  private status = 0;
  private headSent = false;
  private done = false;
  private drainHooked = false;
  private bodyStarted = false;
  private wroteBody = false;
  /** The upstream's `rollgate-flags` value (already out of the relayed head), or null. */
  private flags: string | null = null;

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly svc: CompiledService,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly rh: RequestHead,
    private readonly start: number,
    /** Version named by the client's sticky cookie (to know whether to set it). */
    private readonly cookieVersion: string | null,
    /** Preview listener: retries stay within the one version. */
    private readonly previewOnly: boolean,
  ) {
    res.on('close', () => this.onClientClose());
  }

  send(): void {
    const b = this.backend as BackendState;
    this.attempts++;
    b.inFlight++;
    const conn = b.pool.acquire();
    this.conn = conn;
    const rh = this.rh;
    if (rh.hasBody) conn.bodyPending = true;
    conn.start(this, rh.host === null ? `${rh.head}host: ${b.host}:${b.port}\r\n\r\n` : rh.head + '\r\n', rh.isHead, this.ctx.clock.now);
    if (rh.hasBody && !this.bodyStarted) this.pumpBody();
  }

  onUpstreamHead(head: ResponseHead): void {
    const slot = this.slot as VersionSlot;
    const h = head.headers;
    h.push('x-rollgate-version', slot.name);
    if (this.weighted && this.svc.sticky && this.cookieVersion !== slot.name) h.push('set-cookie', slot.cookie);
    try {
      if (head.reason === '') this.res.writeHead(head.status, h);
      else this.res.writeHead(head.status, head.reason, h);
    } catch {
      // A header value Node refuses to send (invalid characters): the response cannot be relayed.
      const conn = this.conn;
      this.conn = null;
      conn?.abandon();
      this.settleBackend(true, 'invalid response header');
      this.fail('protocol', 'the upstream sent a response header that is not valid HTTP');
      return;
    }
    this.status = head.status;
    this.headSent = true;
    this.flags = head.flags;
    if (head.status >= 500) this.ctx.detector.onFailure(this.backend as BackendState, this.svc, `HTTP ${head.status}`);
    else this.ctx.detector.onSuccess(this.backend as BackendState);
  }

  onBodyData(chunk: Buffer): boolean {
    this.wroteBody = true;
    // The chunk is a view of the upstream read buffer: hand the response a copy it may queue.
    const ok = this.res.write(Buffer.from(chunk));
    if (!ok && !this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', () => this.onClientDrain());
    }
    return ok;
  }

  onUpstreamEnd(last: Buffer | null): void {
    this.conn = null;
    this.done = true;
    (this.backend as BackendState).inFlight--;
    if (last === null) this.res.end();
    else if (last.length <= SMALL_BODY && !this.wroteBody) {
      // Node joins the head and a string body into one write; a Buffer body costs a writev of two.
      // latin1 maps bytes 1:1, so any body survives the round trip.
      this.res.end(last.toString('latin1'), 'latin1');
    } else this.res.end(Buffer.from(last));
    this.account((this.slot as VersionSlot).counters, this.status);
  }

  onUpstreamError(kind: UpstreamFailure, message: string, responded: boolean): void {
    this.conn = null;
    const failed = this.backend as BackendState;
    this.settleBackend(true, message);
    if (this.done) return;
    if (!responded && kind === 'connect' && this.rh.idempotent && !this.rh.hasBody && this.attempts <= this.ctx.maxRetries) {
      (this.slot as VersionSlot).counters.retries++;
      (this.tried ??= []).push(failed);
      if (this.svc.chooseRetry(this, this.tried, this.previewOnly)) {
        this.send();
        return;
      }
    }
    this.fail(kind, message);
  }

  /** Releases the in-flight slot and tells outlier detection about a failure. */
  private settleBackend(failure: boolean, what: string): void {
    const b = this.backend as BackendState;
    b.inFlight--;
    if (failure) this.ctx.detector.onFailure(b, this.svc, what);
  }

  private fail(kind: UpstreamFailure, message: string): void {
    this.done = true;
    const c = (this.slot as VersionSlot).counters;
    c.upstreamErrors++;
    if (this.headSent) {
      // The response had started: all we can do is cut it so the client sees it is incomplete.
      c.cutShort++;
      this.res.destroy();
      this.account(c, this.status, true);
      return;
    }
    const status = kind === 'timeout' ? 504 : 502;
    const b = this.backend as BackendState;
    const what = kind === 'timeout' ? 'did not answer in time' : kind === 'protocol' ? `sent an invalid response (${message})` : `could not be reached (${message})`;
    sendJsonError(
      this.res,
      status,
      kind === 'timeout' ? 'upstream_timeout' : 'upstream_unavailable',
      `instance ${b.id} of ${this.svc.app} version ${b.version} ${what}; check its logs with \`rollgate logs ${this.svc.app} --env ${this.svc.env}\``,
      ['x-rollgate-version', (this.slot as VersionSlot).name],
    );
    this.account(c, status);
  }

  /** One answer, counted under its version and under the instance that gave it. */
  private account(c: VersionCounters, status: number, cutShort = false): void {
    const ms = performance.now() - this.start;
    c.observe(status, ms);
    this.backend?.latency.observe(ms);
    // Under each flag variant the app said served it (only when it said: no work otherwise).
    if (this.flags !== null) this.svc.flags.observe(this.flags, status, ms, cutShort);
  }

  /** True once the exchange ended (answered, failed, or the client went away). */
  get finished(): boolean {
    return this.done;
  }

  /** Chaos: answer as if the version had failed, without reaching it; counted as that version's answer. */
  failInjected(status: number): void {
    if (this.done) return;
    this.done = true;
    const slot = this.slot as VersionSlot;
    sendJsonError(this.res, status, 'injected_fault', `fault injected by rollgate chaos into ${this.svc.app} version ${slot.name}`, ['x-rollgate-version', slot.name]);
    slot.counters.observe(status, performance.now() - this.start);
  }

  private onClientClose(): void {
    if (this.done) return;
    // The client went away before the answer was complete: stop the upstream exchange too.
    this.done = true;
    const conn = this.conn;
    if (conn !== null) {
      this.conn = null;
      conn.abandon();
      (this.backend as BackendState).inFlight--;
    }
  }

  private onClientDrain(): void {
    const conn = this.conn;
    if (conn !== null && !this.done) {
      conn.lastActive = this.ctx.clock.now;
      conn.socket.resume();
    }
  }

  private pumpBody(): void {
    this.bodyStarted = true;
    const req = this.req;
    const chunked = this.rh.chunkedBody;
    req.on('data', (d: Buffer) => {
      const conn = this.conn;
      if (conn === null) return;
      conn.lastActive = this.ctx.clock.now;
      const s = conn.socket;
      let ok: boolean;
      if (chunked) {
        s.cork();
        s.write(d.length.toString(16) + '\r\n', 'latin1');
        s.write(d);
        ok = s.write('\r\n', 'latin1');
        s.uncork();
      } else ok = s.write(d);
      if (!ok) {
        req.pause();
        s.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      const conn = this.conn;
      if (conn === null) return;
      if (chunked) conn.socket.write('0\r\n\r\n', 'latin1');
      conn.bodyPending = false;
    });
  }
}
