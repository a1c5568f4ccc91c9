/**
 * A demo-like app that evaluates flags through @rollgate/sdk/node, for the flag guard's tests
 * (not used by the product). Run by the agent as an instance: `node dist/test/flag-app.js`, port
 * from PORT. The user id comes from `x-user-id`; flags from a small ClientFeatures state:
 * - `new-checkout`: variants control/treatment (50/50 by userId, flexibleRollout 100% on userId);
 *   a treatment request fails (500) with probability TREATMENT_FAIL_RATE;
 * - `new-search`: the same split, healthy on both sides;
 * - `dark-mode`: boolean, on for half the users.
 * Each answer's body names the variants it was served with, so a test can tally what it sent.
 * Paths beyond `/`: `/chunked` (streamed body), `/not-modified` (304), `/hostile?n=N` (N random
 * flag names through recordEvaluation), `/raw?v=VALUE` (the header set by hand, unchecked); any
 * upgrade is answered 101 with the field written by hand, then echoed.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { compile, type ClientFeatures } from '@rollgate/sdk/engine';
import { FLAGS_HEADER, recordEvaluation, trackedEvaluator, withFlagTracking } from '@rollgate/sdk/node';

const split = (group: string) => ({
  enabled: true,
  strategies: [{ name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'userId', groupId: group } }],
  variants: [
    { name: 'control', weight: 500, stickiness: 'userId' },
    { name: 'treatment', weight: 500, stickiness: 'userId' },
  ],
});

export const FLAG_APP_STATE: ClientFeatures = {
  version: 1,
  features: [
    { name: 'new-checkout', ...split('new-checkout') },
    { name: 'new-search', ...split('new-search') },
    { name: 'dark-mode', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'userId', groupId: 'dark-mode' } }] },
  ],
};

const flags = trackedEvaluator(compile(FLAG_APP_STATE));
const failRate = Number(process.env.TREATMENT_FAIL_RATE ?? 0);

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  req.resume();
  if (url.pathname === '/healthz') {
    res.end('ok');
    return;
  }
  if (url.pathname === '/raw') {
    res.setHeader(FLAGS_HEADER, url.searchParams.get('v') ?? '');
    res.end('raw');
    return;
  }
  if (url.pathname === '/hostile') {
    const n = Number(url.searchParams.get('n') ?? 16);
    for (let i = 0; i < n; i++) recordEvaluation(`rnd-${randomBytes(8).toString('hex')}`, 'on');
    res.end('hostile');
    return;
  }
  const context = { userId: String(req.headers['x-user-id'] ?? '') };
  const checkout = flags.getVariant('new-checkout', context).name;
  const search = flags.getVariant('new-search', context).name;
  const dark = flags.isEnabled('dark-mode', context) ? 'on' : 'off';
  const served = { 'new-checkout': checkout, 'new-search': search, 'dark-mode': dark };
  if (checkout === 'treatment' && Math.random() < failRate) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'treatment failed', served }));
    return;
  }
  if (url.pathname === '/not-modified') {
    res.writeHead(304, { etag: '"x"' });
    res.end();
    return;
  }
  if (url.pathname === '/chunked') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"served":');
    setTimeout(() => res.end(`${JSON.stringify(served)}}`), 2);
    return;
  }
  const body = JSON.stringify({ served });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer(withFlagTracking(handle));
server.keepAliveTimeout = 65_000;
// An upgrade answered by hand (as WebSocket libraries do), naming a flag in two fields of any case: the router must take both out.
server.on('upgrade', (_req: http.IncomingMessage, socket: import('node:net').Socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nRollgate-Flags: ws-flag=on\r\nx-after: kept\r\nrollgate-flags:ws-other=on\r\n\r\n');
  socket.on('data', (d: Buffer) => socket.write(d));
  socket.on('error', () => socket.destroy());
});
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
