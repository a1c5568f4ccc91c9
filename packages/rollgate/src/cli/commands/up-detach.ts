/**
 * `rollgate up --detach`: the same `up`, started in its own session with its output in
 * `<dataDir>/up.log`; this waits until it reports that it is up (over an IPC channel), prints
 * where it is, its log, and how to stop it, and returns. The one-time admin password is never
 * written to that log: this process reads it from `<dataDir>/initial-admin.txt` and shows it.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { relative } from 'node:path';
import { RollgateError } from '../../core/errors.js';
import { readInitialAdminFile } from '../../engine/auth/initial-admin-file.js';
import { terminate } from '../daemon.js';
import { printInitialAdmin } from '../initial-admin.js';
import type { Output } from '../output.js';
import { dataDirFlag, tail, upLogPath } from '../platform-file.js';
import { BIN_PATH } from '../runtime.js';

/** Starting may include the agent (20 s bound) and the server's migrations. */
const DETACHED_START_TIMEOUT_MS = 120_000;

interface UpDoc {
  api: string;
  pid: number;
  environments: { name: string; url: string }[];
  agent: { pid: number; adopted: boolean };
  initialAdminFile: string | null;
  firstStart: boolean;
}

export async function runDetached(dataDir: string, shownDataDir: string, out: Output): Promise<void> {
  const log = upLogPath(dataDir);
  const shownLog = relative(process.cwd(), log) || log;
  // The same command line without --detach (and without --json: the log is for people).
  const args = process.argv.slice(2).filter((a) => a !== '--detach' && a !== '--json');
  const fd = openSync(log, 'a', 0o600);
  const child = spawn(process.execPath, [BIN_PATH, ...args, '--background'], { detached: true, stdio: ['ignore', fd, fd, 'ipc'] });
  closeSync(fd);
  const doc = await new Promise<UpDoc>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) void terminate(child.pid, 60_000);
      reject(new RollgateError('unavailable', `rollgate did not come up within ${DETACHED_START_TIMEOUT_MS / 1000}s; it was stopped. ${shownLog} ends with:\n${tail(log, 15)}`));
    }, DETACHED_START_TIMEOUT_MS);
    child.on('message', (m: unknown) => {
      if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'up') {
        clearTimeout(timer);
        resolve((m as { doc: UpDoc }).doc);
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new RollgateError('unavailable', `rollgate stopped while starting (${sig ?? `exit code ${code}`}); ${shownLog} ends with:\n${tail(log, 15)}`));
    });
  });
  child.removeAllListeners('exit');
  if (child.connected) child.disconnect();
  child.unref();
  const saved = readInitialAdminFile(dataDir);
  printInitialAdmin({ initialAdmin: doc.firstStart && saved ? { user: saved.user, password: saved.password, token: null } : undefined, initialAdminFile: doc.initialAdminFile });
  const stop = `rollgate down${dataDirFlag(shownDataDir)}`;
  out.result({ ...doc, log, detached: true, stop }, () =>
    [
      `rollgate is up in the background (pid ${doc.pid}, data in ${dataDir})`,
      `  API:   ${doc.api}`,
      `  agent: pid ${doc.agent.pid}${doc.agent.adopted ? ' (adopted)' : ''}`,
      ...doc.environments.map((e) => `  ${e.name}: ${e.url}`),
      `  log:   ${shownLog}   (the agent's: ${relative(process.cwd(), log.replace(/up\.log$/, 'agent.log'))})`,
      `\`${stop}\` stops it`,
    ].join('\n'),
  );
}
