/** Helpers for the long-running commands (up, server, agent): signals, processes, listener URLs. */
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { watchStdoutReaders } from './stdout-reader.js';
export { awaitExit, isAlive, terminate } from './daemon-process.js';
import { secureDataDir } from '../security/data-dir.js';
import type { EnvironmentView } from './client.js';

export type StopReason = NodeJS.Signals | 'output closed';
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

let outputClosed: (() => void) | null = null;
let stdioGuarded = false;
let outputWasClosed = false;

/**
 * A closed terminal (EIO) or a pipe whose reader left (EPIPE, `rollgate up | tee log` after
 * Ctrl-C) must not crash a daemon before it stops what it started: such write errors are
 * swallowed, and the first one is a reason to stop. Call before the first write.
 */
export function guardStdio(): void {
  if (stdioGuarded) return;
  stdioGuarded = true;
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', () => {
      outputWasClosed = true;
      const f = outputClosed;
      outputClosed = null;
      f?.();
    });
  }
}

/**
 * Resolves with the first SIGINT, SIGTERM or SIGHUP, or once stdout's pipe has no reader (the
 * process at its other end exited). A second signal calls `onSecond` and exits at once (130).
 */
export function waitForSignal(onSecond?: () => void): Promise<StopReason> {
  guardStdio();
  return new Promise((res) => {
    let done = false;
    const first = (why: StopReason) => {
      if (done) return;
      done = true;
      stopWatch();
      outputClosed = null;
      for (const s of STOP_SIGNALS) process.off(s, first);
      const again = () => {
        onSecond?.();
        process.exit(130);
      };
      for (const s of STOP_SIGNALS) process.on(s, again);
      res(why);
    };
    const stopWatch = watchStdoutReaders(() => first('output closed'));
    for (const s of STOP_SIGNALS) process.on(s, first);
    outputClosed = () => first('output closed');
    if (outputWasClosed) first('output closed');
  });
}

/** The data directory, made private before the command creates anything (see security/data-dir.ts). */
export function prepareDataDir(dir: string): string {
  const d = secureDataDir(dir, { warn: (m) => process.stderr.write(`warning: ${m}\n`) }).dir;
  ignoreInGit(d);
  return d;
}

/** `<dataDir>/.gitignore` with `*`: the master key, tokens and database can never be committed by accident. */
function ignoreInGit(dataDir: string): void {
  const file = join(dataDir, '.gitignore');
  if (existsSync(file)) return;
  try {
    writeFileSync(file, '# written by rollgate: nothing in the data directory belongs in git (master.key, tokens, database)\n*\n', { mode: 0o600 });
  } catch (e) {
    process.stderr.write(`warning: could not write ${file} (${(e as Error).message}): keep ${dataDir} out of git yourself\n`);
  }
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