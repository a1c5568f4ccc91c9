/**
 * The HTTP/1.1 response side of the router's upstream client (RFC 9112): parses a response
 * head and decodes chunked bodies. Written for the hot path: one string split per head,
 * header names lower-cased only when their length could make them special.
 */

export interface ResponseHead {
  status: number;
  /** Reason phrase as sent (may be empty). */
  reason: string;
  /** Flat [name, value, ...] list to send to the client, hop-by-hop fields removed. */
  headers: string[];
  /** -1 when absent (or overridden by transfer-encoding). */
  contentLength: number;
  chunked: boolean;
  /** True when a body would run until the connection closes (no length, no chunked). */
  untilClose: boolean;
  /** The upstream asked to close (or framing forces it); an until-close body also closes. */
  close: boolean;
  /** `Keep-Alive: timeout=N` hint in ms, or -1. */
  keepAliveMs: number;
  /** The app's `rollgate-flags` value (several fields joined by `, `), taken out of `headers`; null when absent. */
  flags: string | null;
}

export const MAX_HEAD_BYTES = 64 * 1024;

/** Parses the head (status line + fields, without the final blank line). Returns an error string when invalid. */
export function parseResponseHead(text: string): ResponseHead | string {
  const lines = text.split('\r\n');
  const statusLine = lines[0] as string;
  if (!statusLine.startsWith('HTTP/1.') || statusLine.length < 12) return `invalid status line "${statusLine.slice(0, 40)}"`;
  const minor = statusLine.charCodeAt(7);
  const status = Number(statusLine.slice(9, 12));
  if (!Number.isInteger(status) || status < 100 || status > 999 || statusLine.charCodeAt(8) !== 32 || (statusLine.length > 12 && statusLine.charCodeAt(12) !== 32)) {
    return `invalid status line "${statusLine.slice(0, 40)}"`;
  }
  const reason = statusLine.length > 13 ? statusLine.slice(13) : '';
  const headers: string[] = [];
  let contentLength = -1;
  let chunked = false;
  let hasTE = false;
  let close = minor === 48; // HTTP/1.0 closes unless it says keep-alive
  let keepAliveMs = -1;
  let extraHop: string[] | null = null;
  let flags: string | null = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) return 'obsolete header line folding is not supported';
    const colon = line.indexOf(':');
    if (colon <= 0) return `invalid header line "${line.slice(0, 40)}"`;
    const last = line.charCodeAt(colon - 1);
    if (last === 32 || last === 9) return 'whitespace before a header colon';
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    switch (name.length) {
      case 2:
        if (name.toLowerCase() === 'te') continue;
        break;
      case 7: {
        const l = name.toLowerCase();
        if (l === 'trailer' || l === 'upgrade') continue;
        break;
      }
      case 10: {
        const l = name.toLowerCase();
        if (l === 'connection') {
          for (const raw of value.split(',')) {
            const t = raw.trim().toLowerCase();
            if (t === 'close') close = true;
            else if (t === 'keep-alive') close = minor === 48 ? false : close;
            else if (t !== '') (extraHop ??= []).push(t);
          }
          continue;
        }
        if (l === 'keep-alive') {
          keepAliveMs = keepAliveTimeoutMs(value);
          continue;
        }
        break;
      }
      case 14: {
        const l = name.toLowerCase();
        if (l === 'content-length') {
          const n = parseDigits(value);
          if (n < 0) return `invalid content-length "${value.slice(0, 20)}"`;
          if (contentLength !== -1 && contentLength !== n) return 'conflicting content-length headers';
          if (contentLength === n) continue; // duplicate of the same value: send it once
          contentLength = n;
        } else if (l === 'rollgate-flags') {
          // For the router's per-flag counters only: a client never sees it.
          flags = flags === null ? value : `${flags}, ${value}`;
          continue;
        }
        break;
      }
      case 16:
        if (name.toLowerCase() === 'proxy-connection') continue;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          hasTE = true;
          // Only a final `chunked` coding delimits the body; anything else runs until close (RFC 9112 §6.3).
          chunked = value.toLowerCase().endsWith('chunked');
          continue;
        }
        break;
    }
    headers.push(name, value);
  }
  if (hasTE && contentLength !== -1) {
    // Transfer-Encoding overrides Content-Length, which must not be forwarded; close afterwards (RFC 9112 §6.3).
    removeHeader(headers, 'content-length');
    contentLength = -1;
    close = true;
  }
  if (extraHop !== null) for (const h of extraHop) removeHeader(headers, h);
  const untilClose = !chunked && contentLength === -1;
  return { status, reason, headers, contentLength, chunked, untilClose, close, keepAliveMs, flags };
}

/** A non-negative decimal integer (at most 15 digits), or -1. No regex: this runs per response. */
function parseDigits(v: string): number {
  const len = v.length;
  if (len === 0 || len > 15) return -1;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** `timeout=N` of a Keep-Alive header in ms, or -1. */
function keepAliveTimeoutMs(v: string): number {
  const i = v.toLowerCase().indexOf('timeout=');
  if (i < 0) return -1;
  let j = i + 8;
  let n = 0;
  let digits = 0;
  for (; j < v.length; j++) {
    const c = v.charCodeAt(j) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
    digits++;
  }
  return digits > 0 && digits < 10 ? n * 1000 : -1;
}

function removeHeader(headers: string[], lname: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if ((headers[i] as string).toLowerCase() === lname) headers.splice(i, 2);
  }
}

/** Receives decoded body bytes. Returns false to ask for backpressure. */
export interface BodySink {
  onBodyData(chunk: Buffer): boolean;
}

const enum CS {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  FinalLf,
  Done,
}

/** Incremental chunked-transfer decoder. Trailers are read and dropped. */
export class ChunkedDecoder {
  private st = CS.Size;
  private size = 0;
  private digits = 0;
  private remaining = 0;
  /** Set when the sink asked for backpressure during the last execute(). */
  paused = false;

  get done(): boolean {
    return this.st === CS.Done;
  }

  reset(): void {
    this.st = CS.Size;
    this.size = 0;
    this.digits = 0;
    this.remaining = 0;
    this.paused = false;
  }

  /**
   * Decodes `buf`, passing data to the sink. Returns the bytes consumed (less than the length
   * only when the message ended inside `buf`), or -1 on malformed input.
   */
  execute(buf: Buffer, sink: BodySink): number {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      switch (this.st) {
        case CS.Size: {
          const c = buf[i] as number;
          const d = hexValue(c);
          if (d >= 0) {
            if (++this.digits > 12) return -1; // absurd chunk size
            this.size = this.size * 16 + d;
          } else if (c === 13) {
            this.st = CS.SizeLf;
          } else if (c === 59 || c === 32 || c === 9) {
            this.st = CS.Ext;
          } else return -1;
          i++;
          break;
        }
        case CS.Ext: {
          const cr = buf.indexOf(13, i);
          if (cr < 0) return n;
          i = cr + 1;
          this.st = CS.SizeLf;
          break;
        }
        case CS.SizeLf:
          if (buf[i] !== 10 || this.digits === 0) return -1;
          i++;
          if (this.size === 0) this.st = CS.TrailerStart;
          else {
            this.remaining = this.size;
            this.st = CS.Data;
          }
          break;
        case CS.Data: {
          const take = Math.min(this.remaining, n - i);
          const slice = i === 0 && take === n ? buf : buf.subarray(i, i + take);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.st = CS.DataCr;
          if (!sink.onBodyData(slice)) this.paused = true;
          break;
        }
        case CS.DataCr:
          if (buf[i] !== 13) return -1;
          i++;
          this.st = CS.DataLf;
          break;
        case CS.DataLf:
          if (buf[i] !== 10) return -1;
          i++;
          this.st = CS.Size;
          this.size = 0;
          this.digits = 0;
          break;
        case CS.TrailerStart:
          if (buf[i] === 13) {
            this.st = CS.FinalLf;
            i++;
          } else this.st = CS.TrailerLine;
          break;
        case CS.TrailerLine: {
          const lf = buf.indexOf(10, i);
          if (lf < 0) return n;
          i = lf + 1;
          this.st = CS.TrailerStart;
          break;
        }
        case CS.FinalLf:
          if (buf[i] !== 10) return -1;
          this.st = CS.Done;
          return i + 1;
        case CS.Done:
          return i;
      }
    }
    return n;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
