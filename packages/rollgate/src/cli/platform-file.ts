/**
 * `<dataDir>/up.json` names the `rollgate up` running for a data directory (pid, API URL, the
 * agent it started or adopted, its log when detached), so a second `up` can say where the first
 * one is and `rollgate down` can stop it. Written once up is running, removed when it stops.
 * `<dataDir>/server.json` (written by runServer) names a server started by `rollgate server`.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { isAlive } from './daemon-process.js';
import { commandLineOf } from './port-holder.js';

const UpFile = z.object({
  pid: z.number().int().positive(),
  api: z.string(),
  agentPid: z.number().int().positive(),
  /** False when `up` adopted an agent that was already running (it leaves that agent running). */
  agentStarted: z.boolean(),
  keepAgent: z.boolean(),
  log: z.string().nullable(),
  startedAt: z.string(),
  /** The agent as `up` last saw it (agent-keeper.ts); absent in files of older versions. */
  agent: z
    .object({
      url: z.string(),
      state: z.enum(['running', 'restarting', 'dead']),
      /** When `up` last found the agent's process alive (UTC). */
      lastSeenAt: z.string(),
      restarts: z.number().int().nonnegative(),
      lastExit: z.object({ pid: z.number().int(), how: z.string(), at: z.string() }).nullable(),
    })
    .optional(),
});
export type UpFile = z.infer<typeof UpFile>;

const ServerFile = z.object({ url: z.string(), pid: z.number().int().positive(), startedAt: z.string().optional() });

export const upFilePath = (dataDir: string) => join(dataDir, 'up.json');
export const upLogPath = (dataDir: string) => join(dataDir, 'up.log');

function readJson<T>(file: string, schema: z.ZodType<T>): T | null {
  try {
    const r = schema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** A pid from one of our files still names a rollgate process (not a stranger that reused it). */
export function isRollgateProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  const cmd = commandLineOf(pid);
  return cmd === null || /rollgate/.test(cmd);
}

export function writeUpFile(dataDir: string, info: UpFile): void {
  const file = upFilePath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeUpFile(dataDir: string, pid: number): void {
  if (readJson(upFilePath(dataDir), UpFile)?.pid === pid) rmSync(upFilePath(dataDir), { force: true });
}

/** up.json as written, whether or not its `up` still runs (for status: what was last seen). */
export function readUpFile(dataDir: string): UpFile | null {
  return readJson(upFilePath(dataDir), UpFile);
}

/** The `up` still running for this data directory, else null (a stale file is ignored). */
export function liveUp(dataDir: string): UpFile | null {
  const up = readJson(upFilePath(dataDir), UpFile);
  return up && up.pid !== process.pid && isRollgateProcess(up.pid) ? up : null;
}

/** The server (of `up` or `rollgate server`) still running for this data directory, else null. */
export function liveServer(dataDir: string): { url: string; pid: number } | null {
  const s = readJson(join(dataDir, 'server.json'), ServerFile);
  return s && s.pid !== process.pid && isRollgateProcess(s.pid) ? s : null;
}

/** How a data directory is named in a command the user can copy. */
export const dataDirFlag = (dataDir: string) => (dataDir === '.rollgate' ? '' : ` --data-dir ${dataDir}`);

/** The last lines of a log, for an error message. */
export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
