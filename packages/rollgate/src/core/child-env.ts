/**
 * The whole environment of a command the platform runs for a user (a pipeline stage, a metric
 * command). Nothing of the server's own environment is passed on (its database URL, webhook
 * secrets, cloud keys): a command gets what its spec declares over a small fixed base, so the
 * same spec sees the same variables on every server.
 *
 * - PATH: the directory of the Node.js running the server (so `node`, `npm` and `npx` are found
 *   however Node was installed), then the system directories. Not the server's PATH: that would
 *   make a build depend on how the server was started. A command that needs more sets PATH.
 * - HOME: given by the caller (a pipeline run's own directory), never the server's.
 * - LANG: C.UTF-8, so tools print UTF-8 whatever the server's locale.
 */

export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** `nodeDir`: where the running Node.js is (dirname of process.execPath). */
export function commandPath(nodeDir: string): string {
  return SYSTEM_PATH.split(':').includes(nodeDir) ? SYSTEM_PATH : `${nodeDir}:${SYSTEM_PATH}`;
}

/** The base, then what the spec declares (which wins), then `fixed` (which nothing overrides). */
export function commandEnv(declared: Record<string, string>, base: { home: string; nodeDir: string }, fixed: Record<string, string> = {}): Record<string, string> {
  return { PATH: commandPath(base.nodeDir), HOME: base.home, LANG: 'C.UTF-8', ...declared, ...fixed };
}
