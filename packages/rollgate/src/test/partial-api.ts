/**
 * The real control-plane API (its authorization, edge parsing, error mapping, audit trail) on a
 * loopback port, with only the parts a test needs: any other dependency throws if touched. The
 * store gets an admin whose token is the one given (make it with generateToken()).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { createApi, type ApiDeps } from '../api/app.js';
import { AuditTrail } from '../engine/audit.js';
import { Accounts, Auth, bootstrapAdmin } from '../engine/auth/index.js';
import { silentLogger } from '../engine/logger.js';

function unused<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_t, prop) => {
      throw new Error(`test API: ${name}.${String(prop)} is not available here`);
    },
  });
}

export async function startPartialApi(token: string, given: Partial<ApiDeps> & Pick<ApiDeps, 'store' | 'events'>): Promise<{ base: string; server: ServerType }> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-partial-api-'));
  try {
    await bootstrapAdmin(given.store, dir, { token });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const auth = new Auth(given.store);
  const deps: ApiDeps = {
    log: silentLogger,
    version: 'test',
    releaseLimits: { maxUploadBytes: 1024, maxUnpackedBytes: 4096, maxFiles: 10 },
    auth,
    accounts: new Accounts(given.store, auth),
    audit: new AuditTrail(given.store, randomBytes(32)),
    deployments: unused('deployments'),
    releases: unused('releases'),
    retention: unused('retention'),
    views: unused('views'),
    runtime: unused('runtime'),
    notifications: unused('notifications'),
    incidents: unused('incidents'),
    chaos: unused('chaos'),
    pipelines: unused('pipelines'),
    secrets: unused('secrets'),
    flags: unused('flags'),
    ...given,
  };
  const app = createApi(deps);
  const server = await new Promise<ServerType>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ok(s));
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
