/**
 * Fallback closed-loop HTTP/1.1 load generator (used when wrk is not installed): N keep-alive
 * connections, each sending GET / and waiting for the answer before the next, for a fixed
 * time. Raw sockets so that the generator, not the target, stays cheap. Handles bodies
 * framed by content-length or chunked. Prints one JSON line: requests, errors, rps, p99ms.
 * Usage: loadgen-main.js PORT CONNECTIONS SECONDS
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const port = Number(process.argv[2]);
const connections = Number(process.argv[3] ?? 50);
const seconds = Number(process.argv[4] ?? 8);
const REQ = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: rollgate-bench\r\n\r\n`, 'latin1');
const CRLF2 = Buffer.from('\r\n\r\n');
const TERMINAL = Buffer.from('0\r\n\r\n');

let requests = 0;
let errors = 0;
let lat = new Float64Array(1 << 16);
let n = 0;
let stopping = false;

function record(ms: number): void {
  if (n === lat.length) {
    const next = new Float64Array(lat.length * 2);
    next.set(lat);
    lat = next;
  }
  lat[n++] = ms;
}

function connection(): void {
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  let buf: Buffer = Buffer.alloc(0);
  let sent = 0;
  const send = (): void => {
    if (stopping) {
      s.destroy();
      return;
    }
    sent = performance.now();
    s.write(REQ);
  };
  s.on('connect', send);
  s.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf(CRLF2);
      if (end < 0) return;
      const head = buf.toString('latin1', 0, end).toLowerCase();
      const status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/.exec(head);
      let total: number;
      if (m) total = end + 4 + Number(m[1]);
      else if (head.includes('transfer-encoding: chunked')) {
        const t = buf.indexOf(TERMINAL, end + 4);
        if (t < 0) return;
        total = t + TERMINAL.length;
      } else total = end + 4;
      if (buf.length < total) return;
      buf = buf.subarray(total);
      requests++;
      if (status < 200 || status >= 400) errors++;
      record(performance.now() - sent);
      send();
    }
  });
  s.on('error', () => {
    errors++;
  });
  s.on('close', () => {
    if (!stopping) setTimeout(connection, 10);
  });
}

const start = performance.now();
for (let i = 0; i < connections; i++) connection();
setTimeout(() => {
  stopping = true;
  const elapsed = (performance.now() - start) / 1000;
  const sorted = lat.subarray(0, n).sort();
  const p99 = n > 0 ? (sorted[Math.min(n - 1, Math.floor(n * 0.99))] as number) : 0;
  console.log(JSON.stringify({ requests, errors, rps: requests / elapsed, p99ms: p99 }));
  process.exit(0);
}, seconds * 1000);
