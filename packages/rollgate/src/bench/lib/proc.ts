/** Child processes for benchmarks: started, awaited until they print a ready line, always killed. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface Child {
  proc: ChildProcess;
  /** Text of the ready line's capture (e.g. a port). */
  ready: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Kills every child still running (for exit paths and the watchdog). */
export function killAll(): void {
  for (const p of running) p.kill('SIGKILL');
  running.clear();
}

/**
 * Spawns `cmd args` and resolves when a stdout/stderr line matches `readyRe` (its first group
 * is returned). Rejects if the process exits first or after `timeoutMs`.
 */
export function startChild(name: string, cmd: string, args: string[], readyRe: RegExp, timeoutMs = 10_000): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    let out = '';
    let done = false;
    const stop = (): Promise<void> =>
      new Promise((r) => {
        running.delete(proc);
        if (proc.exitCode !== null || proc.signalCode !== null) return r();
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        proc.once('exit', () => {
          clearTimeout(t);
          r();
        });
        proc.kill('SIGTERM');
      });
    const timer = setTimeout(() => finish(new Error(`${name} did not become ready in ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs);
    const finish = (err: Error | null, ready = ''): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        void stop();
        reject(err);
      } else resolve({ proc, ready, stop });
    };
    const onText = (d: Buffer): void => {
      if (done) return;
      out += d.toString();
      const m = readyRe.exec(out);
      if (m) finish(null, m[1] ?? '');
    };
    proc.stdout?.on('data', onText);
    proc.stderr?.on('data', onText);
    proc.on('error', (e) => finish(e));
    proc.on('exit', (code, sig) => finish(new Error(`${name} exited (${code ?? sig}) before it was ready:\n${out.slice(-2000)}`)));
  });
}


/** Spawns a process that prints nothing when ready; resolves once `port` accepts connections. */
export async function startChildOnPort(name: string, cmd: string, args: string[], port: number, timeoutMs = 10_000): Promise<Child> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const stop = (): Promise<void> =>
    new Promise((r) => {
      running.delete(proc);
      if (proc.exitCode !== null || proc.signalCode !== null) return r();
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      proc.once('exit', () => {
        clearTimeout(t);
        r();
      });
      proc.kill('SIGTERM');
    });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited before it was ready:\n${out.slice(-2000)}`);
    if (await canConnect(port)) return { proc, ready: String(port), stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not listen on ${port} within ${timeoutMs} ms:\n${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export { freePort } from '../../demo/fixtures.js';
