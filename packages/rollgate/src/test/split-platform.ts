/**
 * The platform as two real processes, `rollgate agent` and `rollgate server`, sharing a data
 * dir: so a test can SIGKILL the server alone and start a new one, as an operator would see it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiClient } from '../cli/client.js';
import { ROLLGATE_BIN } from '../demo/fixtures.js';

/** Polls `f` until it gives a truthy value (errors count as "not yet"); on timeout says what it waited for and the last error. */
export async function until<T>(what: string, f: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class SplitPlatform {
  readonly procs: ChildProcess[] = [];
  agent: ChildProcess | null = null;
  server: ChildProcess | null = null;
  /** The server's stderr (its JSON log), most recent last. */
  serverLog = '';

  constructor(
    readonly dataDir: string,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  private spawn(args: string[], onErr?: (s: string) => void): ChildProcess {
    const p = spawn(process.execPath, [ROLLGATE_BIN, ...args, '--data-dir', this.dataDir], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...this.env } });
    p.stderr?.on('data', (b: Buffer) => onErr?.(b.toString()));
    this.procs.push(p);
    return p;
  }

  /** @param extra more `rollgate agent` options (e.g. `--isolation none`). */
  async startAgent(extra: string[] = []): Promise<void> {
    this.agent = this.spawn(['agent', '--port', '0', ...extra]);
    await until('agent.json', async () => JSON.parse(await readFile(join(this.dataDir, 'agent.json'), 'utf8')) as unknown);
  }

  async startServer(port: number): Promise<ApiClient> {
    this.server = this.spawn(['server', '--port', String(port)], (s) => {
      this.serverLog = (this.serverLog + s).slice(-20_000);
    });
    const url = `http://127.0.0.1:${port}`;
    await until('server health', async () => (await fetch(`${url}/v1/health`)).ok);
    const token = (await readFile(join(this.dataDir, 'api.token'), 'utf8')).trim();
    return new ApiClient(url, token);
  }

  async killServer(): Promise<void> {
    const s = this.server;
    if (!s || s.exitCode !== null || s.signalCode !== null) return;
    s.kill('SIGKILL');
    await new Promise((r) => s.once('exit', r));
  }

  /** Where the agent started by `startAgent` listens, with its token (for an in-process `runServer`). */
  async agentConnection(): Promise<{ url: string; token: string; pid: number }> {
    const info = JSON.parse(await readFile(join(this.dataDir, 'agent.json'), 'utf8')) as { url: string; pid: number };
    return { url: info.url, pid: info.pid, token: (await readFile(join(this.dataDir, 'agent.token'), 'utf8')).trim() };
  }

  async stopAll(): Promise<void> {
    const live = this.procs.filter((p) => p.exitCode === null && p.signalCode === null);
    for (const p of live) p.kill('SIGTERM');
    await Promise.all(live.map((p) => new Promise((r) => p.once('exit', r))));
  }
}

/** Every regular file below `dir` (what an attack or a leak scan must cover). */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}
