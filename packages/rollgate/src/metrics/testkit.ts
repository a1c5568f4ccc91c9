/**
 * Test fixture of the metric tests (not used at run time): a real agent serving the demo app
 * in two versions, and traffic pinned to each version, tallied as the client saw it.
 */
import { Agent as HttpAgent, request } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { freePort } from '../demo/fixtures.js';
import type { RouteSpec, ServiceKey } from '../core/dataplane.js';
import { AgentClient } from '../agent/client.js';
import { runAgent, type RunningAgent } from '../agent/main.js';
import { demoVersion, tempDir, waitFor } from '../agent/testkit.js';
import { BuiltinTraffic } from '../traffic/builtin.js';

export interface Tally {
  requests: number;
  c5xx: number;
}

export interface DemoAgent {
  running: RunningAgent;
  client: AgentClient;
  traffic: BuiltinTraffic;
  key: ServiceKey;
  listenPort: number;
  /** Host:port of the agent API, which serves the router's /metrics. */
  apiHostPort: string;
  /** Per version, what the client got. */
  tally: Map<string, Tally>;
  /** Sends `n` requests pinned to `version` (the router may still pick another when it must). */
  send(version: string, n: number, path?: string): Promise<void>;
  stop(): Promise<void>;
}


const weights = (w: Record<string, number>): RouteSpec => ({ balance: 'weights', weights: w, headerRoutes: [], sticky: false });

/** stable v1 (healthy, fast) and canary v2 (`canaryEnv`: e.g. FAIL_RATE, LATENCY_MS), 50/50. */
export async function startDemoAgent(canaryEnv: Record<string, string>): Promise<DemoAgent> {
  const tmp = tempDir('rollgate-metrics-');
  const running = await runAgent({ dataDir: tmp.dir, log: () => undefined, shutdownTimeoutMs: 5000 });
  const client = new AgentClient({ url: running.url, token: running.token, timeoutMs: 10_000 });
  const key: ServiceKey = { env: 'production', app: 'demo' };
  const listenPort = await freePort();
  const declare = async () => {
    await client.putService(key, {
      listenPort,
      versions: [demoVersion('v1'), demoVersion('v2', { env: canaryEnv })],
      routes: weights({ v1: 50, v2: 50 }),
    });
    await waitFor('v1 and v2 ready', async () => (await client.getService(key)).versions.every((v) => v.ready === 1), 15_000);
  };
  try {
    await declare();
  } catch (e) {
    await running.stop();
    tmp.cleanup();
    throw e;
  }
  const tally = new Map<string, Tally>();
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const one = (version: string, path: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: listenPort, path, agent, headers: { 'x-rollgate-version': version }, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          const served = String(res.headers['x-rollgate-version'] ?? 'none');
          const t = tally.get(served) ?? { requests: 0, c5xx: 0 };
          t.requests++;
          if ((res.statusCode ?? 0) >= 500) t.c5xx++;
          tally.set(served, t);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end();
    });
  return {
    running,
    client,
    traffic: new BuiltinTraffic(client),
    key,
    listenPort,
    apiHostPort: new URL(running.url).host,
    tally,
    async send(version, n, path = '/') {
      let next = 0;
      const worker = async () => {
        while (next < n) {
          next++;
          await one(version, path);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    },
    async stop() {
      agent.destroy();
      await running.stop();
      tmp.cleanup();
    },
  };
}

export { freePort };

/** Accepts connections and never answers (a source or server that hangs). */
export async function hungServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const srv = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}
