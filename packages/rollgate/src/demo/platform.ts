/**
 * Runs the platform as a user would: `rollgate up` in a child process, then talks to it over
 * its API. Used by the demo, end-to-end tests and benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiClient } from '../cli/client.js';
import type { DeploymentView } from '../api/contract.js';
import { isActiveStatus } from '../core/domain.js';
import { ROLLGATE_BIN } from './fixtures.js';

export interface Platform {
  url: string;
  token: string;
  client: ApiClient;
  process: ChildProcess;
  dataDir: string;
  /** SIGINT to `rollgate up`: stops the server and its agent; resolves when it exited. */
  stop(): Promise<void>;
}

export async function startPlatform(opts: { dataDir: string; port: number; cwd: string; env?: NodeJS.ProcessEnv; quiet?: boolean }): Promise<Platform> {
  const child = spawn(process.execPath, [ROLLGATE_BIN, 'up', '--data-dir', opts.dataDir, '--port', String(opts.port)], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', opts.quiet ? 'pipe' : 'inherit'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 30_000;
  let token = '';
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rollgate up exited with ${child.exitCode}: ${stderr}`);
    try {
      token = (await readFile(join(opts.dataDir, 'api.token'), 'utf8')).trim();
      const res = await fetch(`${url}/v1/health`);
      if (res.ok && token) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rollgate up did not answer on ${url} within 30s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    token,
    client: new ApiClient(url, token),
    process: child,
    dataDir: opts.dataDir,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Polls a deployment until it is no longer active (or the timeout passes). */
export async function waitForDeployment(client: ApiClient, id: string, timeoutMs = 120_000, until?: (d: DeploymentView) => boolean): Promise<DeploymentView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await client.deployment(id);
    if (until ? until(d) : !isActiveStatus(d.status)) return d;
    if (Date.now() > deadline) throw new Error(`deployment ${id} still ${d.status} after ${timeoutMs}ms: ${d.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
