/** Processes the long-running commands start and stop: alive checks, graceful termination. */
import { setTimeout as sleep } from 'node:timers/promises';

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
  return awaitExit(pid, graceMs);
}

/** Waits up to `graceMs` for a process already asked to stop, then SIGKILL. */
export async function awaitExit(pid: number, graceMs: number): Promise<'exited' | 'killed'> {
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
