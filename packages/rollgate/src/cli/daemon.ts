/** Helpers for the long-running commands (up, server, agent): signals, processes, listener URLs. */
import { setTimeout as sleep } from 'node:timers/promises';
import { secureDataDir } from '../security/data-dir.js';
import type { EnvironmentView } from './client.js';

/** Resolves with the first SIGINT or SIGTERM; a second one exits at once (130), leaving children as they are. */
export function waitForSignal(onSecond?: () => void): Promise<NodeJS.Signals> {
  return new Promise((res) => {
    const first = (sig: NodeJS.Signals) => {
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      const again = () => {
        onSecond?.();
        process.exit(130);
      };
      process.on('SIGINT', again);
      process.on('SIGTERM', again);
      res(sig);
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
}

/** The data directory, made private before the command creates anything (see security/data-dir.ts). */
export function prepareDataDir(dir: string): string {
  return secureDataDir(dir, { warn: (m) => process.stderr.write(`warning: ${m}\n`) }).dir;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM, wait up to `graceMs` for the process to go, then SIGKILL. Resolves once it is gone. */
export async function terminate(pid: number, graceMs: number): Promise<'exited' | 'killed'> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'exited';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'exited';
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'exited';
  }
  while (isAlive(pid)) await sleep(50);
  return 'killed';
}

/** Where users reach an environment: `http://host:port` (a wildcard host shown as loopback). */
export function listenerUrl(listen: EnvironmentView['listen']): string {
  if (typeof listen === 'number') return `http://127.0.0.1:${listen}`;
  const withScheme = /^[a-z]+:\/\//i.test(listen) ? listen : `http://${listen}`;
  try {
    const u = new URL(withScheme);
    if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = '127.0.0.1';
    return u.toString().replace(/\/$/, '');
  } catch {
    return listen;
  }
}