/**
 * The real control-plane API (its token check, edge parsing, error mapping) on a loopback port,
 * with only the parts a test needs: any other dependency throws if touched.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createApi, type ApiDeps } from '../api/app.js';
import { tokenHash } from '../api/token.js';
import { silentLogger } from '../engine/logger.js';

function unused<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_t, prop) => {
      throw new Error(`test API: ${name}.${String(prop)} is not available here`);
    },
  });
}

export async function startPartialApi(token: string, given: Partial<ApiDeps> & Pick<ApiDeps, 'store' | 'events'>): Promise<{ base: string; server: ServerType }> {
  const deps: ApiDeps = {
    log: silentLogger,
    tokenHash: tokenHash(token),
    version: 'test',
    maxReleaseBytes: 1024,
    deployments: unused('deployments'),
    releases: unused('releases'),
    views: unused('views'),
    runtime: unused('runtime'),
    notifications: unused('notifications'),
    incidents: unused('incidents'),
    chaos: unused('chaos'),
    pipelines: unused('pipelines'),
    ...given,
  };
  const app = createApi(deps);
  const server = await new Promise<ServerType>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ok(s));
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
