/**
 * A real platform for the flag tests: an agent process, the server (runServer) on SQLite or
 * PostgreSQL, an app `shop` with a `staging` and a `production` environment, and a user with a
 * token for each built-in role. `store` is a second connection to the server's database, for
 * what the API does not show (events, the raw revision, SDK key resolution).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_ROLE_NAMES, type BuiltinRoleName } from '../core/authz.js';
import { ApiClient } from '../cli/client.js';
import { createToken, createUser } from '../cli/client-auth.js';
import { freePort } from '../demo/fixtures.js';
import { AuditTrail } from '../engine/audit.js';
import { silentLogger } from '../engine/logger.js';
import { Flags } from '../flags/flags.js';
import { runServer, type RunningServer, type ServerOptions } from '../server/main.js';
import { openStore, type Store } from '../store/index.js';
import { SplitPlatform } from './split-platform.js';

export interface FlagsPlatform {
  work: string;
  server: RunningServer;
  admin: ApiClient;
  tokens: Record<BuiltinRoleName, string>;
  as(role: BuiltinRoleName): ApiClient;
  store: Store;
  /** A service over `store` (its own audit key: for reads and key resolution only). */
  flags: Flags;
  stop(): Promise<void>;
}

/**
 * `serverOptions`: options of the server beyond the defaults (e.g. stream caps). Production takes
 * flag changes directly (flagChangeRequests: false) unless `opts.changeRequests`, as it does by default.
 */
export async function startFlagsPlatform(databaseUrl?: string, serverOptions: Pick<ServerOptions, 'deliveryStreams' | 'eventStreams' | 'log'> = {}, opts: { changeRequests?: boolean } = {}): Promise<FlagsPlatform> {
  const work = await mkdtemp(join(tmpdir(), 'rollgate-flags-'));
  const dataDir = join(work, '.rollgate');
  const platform = new SplitPlatform(dataDir);
  await platform.startAgent();
  const server = await runServer({ dataDir, port: await freePort(), agent: await platform.agentConnection(), log: silentLogger, ...(databaseUrl ? { databaseUrl } : {}), ...serverOptions });
  const admin = new ApiClient(server.url, server.token!);
  await admin.applySpec({
    apps: { shop: { run: 'node server.js', replicas: 1 } },
    environments: { staging: { listen: await freePort(), production: false }, production: { listen: await freePort(), ...(opts.changeRequests ? {} : { flagChangeRequests: false }) } },
  });
  const tokens = {} as Record<BuiltinRoleName, string>;
  for (const role of BUILTIN_ROLE_NAMES) {
    await createUser(admin, { name: `flags-${role}`, roles: [role], generatePassword: true });
    tokens[role] = (await createToken(admin, { user: `flags-${role}`, name: 'flags', expires: '1d' })).token;
  }
  const store = await openStore(databaseUrl ? { url: databaseUrl } : { dataDir });
  return {
    work,
    server,
    admin,
    tokens,
    as: (role) => new ApiClient(server.url, tokens[role]),
    store,
    flags: new Flags({ store, audit: new AuditTrail(store, randomBytes(32)) }),
    async stop() {
      await store.close();
      await server.stop();
      await platform.stopAll();
      await rm(work, { recursive: true, force: true });
    },
  };
}
