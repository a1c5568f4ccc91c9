/** Helpers for tests that run the real `rollgate` binary as a user would. */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_APP_DIR, ROLLGATE_BIN, freePort } from '../demo/fixtures.js';
import { until as untilShared } from './split-platform.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Client env: nothing inherited that would point the CLI elsewhere. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('ROLLGATE_')) delete env[k];
  return env;
}

/** Runs the real CLI to its end (bounded); `env` defaults to the clean one. */
export function rollgate(cwd: string, args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = cleanEnv()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ROLLGATE_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rollgate ${args.join(' ')} did not finish within ${timeoutMs}ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running `rollgate …` (up) whose output is collected as it comes. */
export interface Daemon {
  child: ChildProcess;
  out: () => string;
  err: () => string;
}

export function startRollgate(cwd: string, args: string[], stdio: StdioOptions = ['ignore', 'pipe', 'pipe']): Daemon {
  const child = spawn(process.execPath, [ROLLGATE_BIN, ...args], { cwd, env: cleanEnv(), stdio });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return { child, out: () => out, err: () => err };
}

/** `until` of split-platform.ts with a longer default: CLI runs start whole platforms. */
export function until<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  return untilShared(what, fn, timeoutMs);
}

/** Whether a process exists (a zombie counts as gone: it runs nothing and holds no port). */
export function procAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => res(true)));
  });
}

export function readJsonFile<T>(file: string): T | null {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
  } catch {
    return null;
  }
}

/** The pids of every instance the agent of `dataDir` runs (asked through its API with its token). */
export async function instancePids(dataDir: string): Promise<number[]> {
  const info = readJsonFile<{ url: string }>(join(dataDir, 'agent.json'));
  if (!info) return [];
  const token = readFileSync(join(dataDir, 'agent.token'), 'utf8').trim();
  const res = await fetch(`${info.url}/v1/services`, { headers: { authorization: `Bearer ${token}` } });
  const services = (await res.json()) as { versions: { instances: { pid: number | null }[] }[] }[];
  return services.flatMap((s) => s.versions.flatMap((v) => v.instances.map((i) => i.pid))).filter((p): p is number => p !== null);
}

/** Last resort after a test: nothing it started may outlive it. */
export async function killAll(pids: Iterable<number>): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await sleep(100);
}

export interface UpProject {
  dir: string;
  dataDir: string;
  apiPort: number;
  /** The staging listener. */
  stagingPort: number;
}

/**
 * A project for `rollgate up` tests in a new directory under `prefix` (added to `roots` for the
 * caller to remove): the example app in `app/`, a rollgate.yaml with app demo (2 replicas) and a
 * staging environment on a free port.
 */
export async function upProject(prefix: string, roots: string[]): Promise<UpProject> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  roots.push(root);
  const dir = join(root, 'project');
  cpSync(DEMO_APP_DIR, join(dir, 'app'), { recursive: true });
  const [apiPort, stagingPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'rollgate.yaml'),
    `apps:
  demo:
    run: ${JSON.stringify(`${JSON.stringify(process.execPath)} server.js`)}
    replicas: 2
    drainTimeout: 1s
    healthCheck: { path: /healthz, interval: 200ms, timeout: 1s, startTimeout: 15s }
environments:
  staging:
    listen: ${stagingPort}
`,
  );
  return { dir, dataDir: join(dir, '.rollgate'), apiPort, stagingPort };
}
