/** Helpers shared by the agent's tests (real processes, loopback sockets). Not used at run time. */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HealthCheckSpec, VersionDesired } from '../core/dataplane.js';

/** examples/demo-app, from dist/agent/ or src/agent/. */
export const DEMO_APP_DIR = fileURLToPath(new URL('../../../../examples/demo-app/', import.meta.url));

export const FAST_HEALTH: HealthCheckSpec = {
  path: '/healthz',
  intervalMs: 100,
  timeoutMs: 500,
  healthyThreshold: 1,
  unhealthyThreshold: 2,
  startTimeoutMs: 5000,
};

/** A version of the demo app; `env` selects its behaviour (FAIL_RATE, CRASH_ON_START …). */
export function demoVersion(version: string, over: Partial<VersionDesired> = {}): VersionDesired {
  return {
    version,
    releaseId: `rel-${version}`,
    dir: DEMO_APP_DIR,
    // The absolute node path: tests must not depend on PATH.
    command: `${JSON.stringify(process.execPath)} server.js`,
    portEnv: 'PORT',
    env: {},
    replicas: 1,
    health: FAST_HEALTH,
    drainTimeoutMs: 2000,
    ...over,
  };
}

export function tempDir(prefix = 'rollgate-agent-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request on a fresh connection, with a timeout. */
export function http(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
