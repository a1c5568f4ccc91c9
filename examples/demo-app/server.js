#!/usr/bin/env node
// Rollgate demo app: a small HTTP service whose behaviour is chosen per version by
// ./behavior.json (in the working directory) with environment variables overriding it.
// Used by the demo, the tests and the benchmarks. No dependencies, no build step; with
// FLAGS_URL and FLAGS_KEY set it evaluates the flags named in behavior.json
// `flags` through @rollgate/sdk (shipped in the release's node_modules), tags each response
// with the variants it was served with (for guarded flag rollouts), and fails a request served
// with a flag on with that flag's failure rate (a faulty feature behind a flag).
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

function loadBehavior() {
  let file = {};
  try {
    file = JSON.parse(readFileSync('behavior.json', 'utf8'));
  } catch (e) {
    if (e.code !== 'ENOENT') {
      process.stderr.write(`demo-app: cannot read behavior.json: ${e.message}\n`);
      process.exit(1);
    }
  }
  const env = process.env;
  const num = (name, fallback) => {
    if (env[name] === undefined || env[name] === '') return Number(fallback ?? 0);
    const n = Number(env[name]);
    if (!Number.isFinite(n)) {
      process.stderr.write(`demo-app: ${name}="${env[name]}" is not a number\n`);
      process.exit(1);
    }
    return n;
  };
  const flag = (name, fallback) => (env[name] === undefined || env[name] === '' ? Boolean(fallback) : env[name] === '1' || env[name] === 'true');
  return {
    // Without explicit configuration, report the version Rollgate deployed this instance as.
    version: env.APP_VERSION || file.version || env.ROLLGATE_VERSION || 'dev',
    failRate: num('FAIL_RATE', file.failRate),
    latencyMs: num('LATENCY_MS', file.latencyMs),
    // Realistic noise: an extra delay drawn from an exponential distribution with this mean.
    latencyJitterMs: num('LATENCY_JITTER_MS', file.latencyJitterMs),
    crashOnStart: flag('CRASH_ON_START', file.crashOnStart),
    crashAfter: num('CRASH_AFTER', file.crashAfter),
    healthy: env.HEALTHY === undefined || env.HEALTHY === '' ? file.healthy !== false : env.HEALTHY !== '0' && env.HEALTHY !== 'false',
    startDelayMs: num('START_DELAY_MS', file.startDelayMs),
    // A cold start (lazy initialisation): this much extra latency for coldForMs from the first request.
    coldLatencyMs: num('COLD_LATENCY_MS', file.coldLatencyMs),
    coldForMs: num('COLD_FOR_MS', file.coldForMs),
    // What a request costs (0 by default): bytes kept for ever (a leak) and CPU burnt in a busy loop.
    leakBytesPerRequest: num('LEAK_BYTES_PER_REQUEST', file.leakBytesPerRequest),
    cpuSpinMsPerRequest: num('CPU_SPIN_MS_PER_REQUEST', file.cpuSpinMsPerRequest),
    // Test hook: an app that ignores SIGTERM (to exercise SIGKILL after the drain timeout).
    ignoreSigterm: flag('IGNORE_SIGTERM', file.ignoreSigterm),
    // Flag name -> failure rate of the requests served with it on.
    flags: file.flags && typeof file.flags === 'object' ? file.flags : {},
  };
}

/** The SDK client and the response tagging, when flags are configured (else null). */
async function startFlags(b) {
  const url = process.env.FLAGS_URL;
  const key = process.env.FLAGS_KEY;
  if (!url || !key || Object.keys(b.flags).length === 0) return null;
  let sdk, node;
  try {
    sdk = await import('@rollgate/sdk');
    node = await import('@rollgate/sdk/node');
  } catch (e) {
    process.stderr.write(`demo-app: flags configured but @rollgate/sdk cannot be loaded (${e.message}); serving with every flag off\n`);
    return null;
  }
  const client = new sdk.RollgateClient({ url, key, appName: 'demo-app', instanceId: process.env.ROLLGATE_INSTANCE, onEvaluation: node.recordEvaluation }).start();
  client.on('error', (e) => process.stderr.write(`demo-app: flags: ${e.message ?? e}\n`));
  // Outcomes go to the server too, for guarded rollouts when the app is not behind the Rollgate router.
  return { client, wrap: (handler) => node.withFlagTracking(handler, { outcomes: client }) };
}

const b = loadBehavior();
const flags = await startFlags(b);
const port = Number(process.env.PORT ?? 3000);
const instance = process.env.ROLLGATE_INSTANCE ?? null;

if (b.crashOnStart) {
  process.stderr.write(`Error: demo-app ${b.version} configured to crash on start (crashOnStart)\n`);
  process.exit(1);
}

let served = 0;
let firstRequestAt = null;
let shuttingDown = false;
const sockets = new Set(); // upgraded WebSocket sockets, closed on shutdown

const leaked = [];
/** The leak and the CPU a request of this version costs (behavior.json), if any. */
function spend() {
  if (b.leakBytesPerRequest > 0) leaked.push(Buffer.alloc(b.leakBytesPerRequest, 1)); // filled, so resident
  if (b.cpuSpinMsPerRequest > 0) {
    const until = performance.now() + b.cpuSpinMsPerRequest;
    while (performance.now() < until);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function identity(res, status = 200) {
  const body = JSON.stringify({ version: b.version, pid: process.pid, instance });
  res.writeHead(status, { 'content-type': 'application/json', 'x-app-version': b.version, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req, res) {
  if (shuttingDown) res.setHeader('connection', 'close');
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/healthz') {
    res.writeHead(b.healthy ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(b.healthy ? 'ok' : 'unhealthy');
    return;
  }
  served++;
  spend();
  if (b.crashAfter > 0 && served > b.crashAfter) {
    process.stderr.write(`Error: demo-app ${b.version} crashing after ${b.crashAfter} requests (crashAfter)\n`);
    process.exit(1);
  }
  firstRequestAt ??= Date.now();
  const cold = b.coldLatencyMs > 0 && Date.now() - firstRequestAt < b.coldForMs ? b.coldLatencyMs : 0;
  const delay = cold + b.latencyMs + (b.latencyJitterMs > 0 ? -Math.log(1 - Math.random()) * b.latencyJitterMs : 0);
  if (delay > 0) await sleep(delay);
  if (url.pathname === '/echo' && req.method === 'POST') {
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', 'x-app-version': b.version });
    req.pipe(res);
    return;
  }
  // Drain any request body so keep-alive works for bodies we do not read.
  req.resume();
  if (flags) {
    const userId = req.headers['x-user-id'] ?? undefined;
    for (const [name, rate] of Object.entries(b.flags)) {
      if (flags.client.isEnabled(name, userId ? { userId } : {}) && Math.random() < Number(rate)) {
        res.writeHead(500, { 'content-type': 'application/json', 'x-app-version': b.version });
        res.end(JSON.stringify({ error: `injected failure of flag ${name}`, version: b.version }));
        return;
      }
    }
  }
  if (b.failRate > 0 && Math.random() < b.failRate) {
    res.writeHead(500, { 'content-type': 'application/json', 'x-app-version': b.version });
    res.end(JSON.stringify({ error: 'injected failure', version: b.version }));
    return;
  }
  if (url.pathname === '/slow') {
    const ms = Math.min(Math.max(Number(url.searchParams.get('ms') ?? 1500) || 0, 0), 120_000);
    await sleep(ms);
    identity(res);
    return;
  }
  if (url.pathname === '/') {
    identity(res);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain', 'x-app-version': b.version });
  res.end('not found');
}

const handler = (req, res) => {
  handle(req, res).catch((e) => {
    process.stderr.write(`demo-app: request failed: ${e?.stack ?? e}\n`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
};
const server = createServer(flags ? flags.wrap(handler) : handler);
server.keepAliveTimeout = 65_000;

// --- Minimal WebSocket echo (RFC 6455): handshake, text/binary echo, ping/pong, close ---
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function wsFrame(opcode, payload) {
  const len = payload.length;
  let head;
  if (len < 126) head = Buffer.from([0x80 | opcode, len]);
  else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const key = req.headers['sec-websocket-key'];
  if (url.pathname !== '/ws' || typeof key !== 'string' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\nx-app-version: ${b.version}\r\n\r\n`,
  );
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  let buf = head && head.length ? Buffer.from(head) : Buffer.alloc(0);
  let fragments = [];
  let fragOpcode = 0;
  const onData = (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0] & 0x80) !== 0;
      const opcode = buf[0] & 0x0f;
      const masked = (buf[1] & 0x80) !== 0;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buf[maskOff + (i % 4)];
      buf = buf.subarray(off + len);
      if (opcode === 0x8) {
        socket.end(wsFrame(0x8, payload.subarray(0, 2)));
        return;
      }
      if (opcode === 0x9) {
        socket.write(wsFrame(0xa, payload));
        continue;
      }
      if (opcode === 0xa) continue;
      if (opcode === 0x0) fragments.push(payload);
      else {
        fragOpcode = opcode;
        fragments = [payload];
      }
      if (fin) {
        socket.write(wsFrame(fragOpcode, Buffer.concat(fragments)));
        fragments = [];
      }
    }
  };
  socket.on('data', onData);
  if (buf.length) {
    const first = buf;
    buf = Buffer.alloc(0);
    onData(first);
  }
});

function shutdown(signal) {
  if (b.ignoreSigterm) {
    process.stdout.write(`demo-app ${b.version} ignoring ${signal} (ignoreSigterm)\n`);
    return;
  }
  if (shuttingDown) return;
  shuttingDown = true;
  process.stdout.write(`demo-app ${b.version} received ${signal}, draining\n`);
  // Stop accepting; in-flight requests finish, then their keep-alive sockets close.
  server.close(() => {
    flags?.client.close();
    process.stdout.write(`demo-app ${b.version} drained, exiting\n`);
    process.exit(0);
  });
  server.closeIdleConnections();
  for (const s of sockets) s.end(wsFrame(0x8, Buffer.from([0x03, 0xe9]))); // 1001 going away
  // Sockets that become idle after their in-flight request ends.
  const t = setInterval(() => server.closeIdleConnections(), 100);
  t.unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.on('error', (e) => {
  process.stderr.write(`Error: demo-app cannot listen on 127.0.0.1:${port}: ${e.code ?? ''} ${e.message}\n`);
  process.exit(1);
});

setTimeout(() => {
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`demo-app ${b.version} listening on http://127.0.0.1:${port} pid=${process.pid} instance=${instance ?? '-'}\n`);
  });
}, Math.max(0, b.startDelayMs));
