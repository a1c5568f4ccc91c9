/**
 * A real platform in this process for end-to-end tests of the demo app: an agent and a server
 * (SQLite) in a temporary directory, a spec applied, releases of the demo app uploaded, versions
 * deployed, and traffic on a listener. Used by the analysis, resource and flag guard tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runAgent, type RunningAgent } from '../agent/main.js';
import type { DeployRequest, DeploymentView } from '../api/contract.js';
import { ApiClient } from '../cli/client.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { makeDemoRelease, type Behavior } from '../demo/fixtures.js';
import { waitForDeployment } from '../demo/platform.js';
import { silentLogger } from '../engine/logger.js';
import { LoadGenerator, type LoadOptions } from '../loadgen/loadgen.js';
import { runServer, type RunningServer } from '../server/main.js';

export interface DemoKit {
  work: string;
  agent: RunningAgent;
  server: RunningServer;
  client: ApiClient;
  /** Uploads a release of the demo app with this behaviour (`withSdk`: @rollgate/sdk shipped in it). */
  release(b: Behavior, opts?: { withSdk?: boolean }): Promise<void>;
  /** Deploys and waits until the deployment is no longer active. */
  deployAndWait(env: string, version: string, timeoutMs?: number, extra?: Pick<DeployRequest, 'strategy'>): Promise<DeploymentView>;
  /** Starts traffic on a local listener (stopped by stop()). */
  load(o: Omit<LoadOptions, 'url'> & { port: number }): LoadGenerator;
  stop(): Promise<void>;
}

/** `spec`: YAML text or an object; a function gets the server's URL first (for FLAGS_URL). */
export async function startDemoKit(prefix: string, spec: string | object | ((serverUrl: string) => string | object)): Promise<DemoKit> {
  const work = await mkdtemp(join(tmpdir(), `rollgate-${prefix}-`));
  const agent = await runAgent({ dataDir: join(work, 'agent'), log: () => {} });
  const server = await runServer({ dataDir: join(work, 'server'), port: 0, agent: { url: agent.url, token: agent.token }, log: silentLogger });
  const client = new ApiClient(server.url, server.token!);
  const s = typeof spec === 'function' ? spec(server.url) : spec;
  await client.applySpec(typeof s === 'string' ? parseYaml(s) : s);
  const loads: LoadGenerator[] = [];
  return {
    work,
    agent,
    server,
    client,
    async release(b, opts = {}) {
      const dir = await makeDemoRelease(join(work, 'releases'), b, opts);
      await client.uploadRelease('demo', packDir(await checkReleaseDir(dir)), { version: b.version });
    },
    async deployAndWait(env, version, timeoutMs = 60_000, extra = {}) {
      const d = await client.deploy({ app: 'demo', env, version, ...extra });
      return waitForDeployment(client, d.id, timeoutMs);
    },
    load({ port, ...o }) {
      const l = new LoadGenerator({ url: `http://127.0.0.1:${port}`, ...o });
      loads.push(l);
      l.start();
      return l;
    },
    async stop() {
      for (const l of loads) await l.stop();
      await server.stop();
      await agent.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
}
