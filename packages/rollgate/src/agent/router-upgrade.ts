/**
 * Upgrade passthrough (WebSocket and any other `Upgrade:` protocol): the request head is
 * forwarded with its Connection/Upgrade fields, then bytes are piped both ways untouched, except
 * that the upstream's response head is read first to take out an app's `rollgate-flags` field
 * (see upgrade-head.ts), which a client must never see.
 * The backend counts as in flight for the life of the tunnel, so draining waits for it.
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { CompiledService, PickTarget, VersionSlot } from './balancer.js';
import type { BackendState } from './router-backend.js';
import type { ExchangeContext } from './router-exchange.js';
import { MAX_HEAD_BYTES } from './router-http1.js';
import { takeFlagsField } from './upgrade-head.js';

/** Builds the upstream head of an upgrade request: everything kept but X-Forwarded-*, which is extended. */
function upgradeHead(req: IncomingMessage): string {
  const raw = req.rawHeaders;
  let h = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
  let xff: string | null = null;
  let host: string | null = null;
  let hasProto = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const l = name.toLowerCase();
    if (l === 'x-forwarded-for') {
      xff = xff === null ? value : `${xff}, ${value}`;
      continue;
    }
    if (l === 'host' && host === null) host = value;
    if (l === 'x-forwarded-proto') hasProto = true;
    h += `${name}: ${value}\r\n`;
  }
  const remote = req.socket.remoteAddress ?? '';
  h += `x-forwarded-for: ${xff === null ? remote : `${xff}, ${remote}`}\r\n`;
  if (!hasProto) h += 'x-forwarded-proto: http\r\n';
  if (host !== null) h += `x-forwarded-host: ${host}\r\n`;
  return h + '\r\n';
}

export class UpgradeTunnel implements PickTarget {
  backend: BackendState | null = null;
  slot: VersionSlot | null = null;
  weighted = false;
  private upstream: net.Socket | null = null;
  private attempts = 0;
  private tried: BackendState[] = [];
  private counted = false;
  private closed = false;
  private readonly head: string;

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly svc: CompiledService,
    req: IncomingMessage,
    private readonly client: Duplex,
    private readonly firstBytes: Buffer,
    private readonly tracker: Set<Duplex>,
    private readonly previewOnly: boolean,
  ) {
    this.head = upgradeHead(req);
    tracker.add(client);
    client.on('error', () => this.close());
    client.on('close', () => this.close());
    // The listener's sockets allow half-open; a tunnel does not: either side ending ends both.
    client.on('end', () => this.close());
  }

  private readonly start = performance.now();

  connect(): void {
    const b = this.backend as BackendState;
    this.attempts++;
    const up = net.connect(b.port, b.host);
    this.upstream = up;
    this.tracker.add(up);
    let connected = false;
    up.setNoDelay(true);
    up.on('connect', () => {
      connected = true;
      b.inFlight++;
      up.write(this.head, 'latin1');
      if (this.firstBytes.length > 0) up.write(this.firstBytes);
      this.readHead(up);
      this.client.pipe(up);
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      if (connected || this.closed) return;
      this.tracker.delete(up);
      this.ctx.detector.onFailure(b, this.svc, e.code ?? e.message);
      if (this.attempts <= this.ctx.maxRetries) {
        (this.slot as VersionSlot).counters.retries++;
        this.tried.push(b);
        if (this.svc.chooseRetry(this, this.tried, this.previewOnly)) {
          this.connect();
          return;
        }
      }
      this.refuse(e.code ?? e.message);
    });
    up.on('end', () => this.close());
    up.on('close', () => {
      if (!connected) return;
      b.inFlight--;
      connected = false;
      this.close();
    });
  }

  /** Holds the upstream's bytes until its response head is complete, relays it without the flags field, then pipes. */
  private readHead(up: net.Socket): void {
    let buf: Buffer | null = null;
    const onData = (d: Buffer): void => {
      buf = buf === null ? d : Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) this.close(); // not HTTP as the router relays it
        return;
      }
      up.off('data', onData);
      const { head, flags } = takeFlagsField(buf.toString('latin1', 0, end));
      const status = buf.length >= 12 ? Number(buf.toString('latin1', 9, 12)) : 0;
      this.countResponse(status, flags);
      if (flags === null) this.client.write(buf);
      else {
        this.client.write(head, 'latin1');
        this.client.write(buf.subarray(end));
      }
      up.pipe(this.client);
    };
    up.on('data', onData);
  }

  private countResponse(status: number, flags: string | null): void {
    if (this.counted) return;
    this.counted = true;
    const slot = this.slot as VersionSlot;
    const ms = performance.now() - this.start;
    const answered = Number.isInteger(status) && status >= 100 ? status : 502;
    slot.counters.observe(answered, ms);
    (this.backend as BackendState).latency.observe(ms);
    if (flags !== null) this.svc.flags.observe(flags, answered, ms, false);
    if (status >= 500) this.ctx.detector.onFailure(this.backend as BackendState, this.svc, `HTTP ${status}`);
    else this.ctx.detector.onSuccess(this.backend as BackendState);
  }

  private refuse(reason: string): void {
    const slot = this.slot as VersionSlot;
    slot.counters.upstreamErrors++;
    slot.counters.observe(502, performance.now() - this.start);
    this.counted = true;
    const body = JSON.stringify({ error: { code: 'upstream_unavailable', message: `no instance of ${this.svc.app} accepted the upgrade (${reason})` } });
    if (!this.client.destroyed) {
      this.client.end(
        `HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
    this.tracker.delete(this.client);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tracker.delete(this.client);
    this.client.destroy();
    const up = this.upstream;
    if (up !== null) {
      this.tracker.delete(up);
      up.destroy();
    }
  }
}
