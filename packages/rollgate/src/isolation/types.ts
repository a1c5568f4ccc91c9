/**
 * Isolation of untrusted code (app instances, pipeline stage commands) from the platform: its
 * data directory (keys, database, tokens), other apps' releases and other environments'
 * secrets. One implementation per mechanism, chosen by `detectIsolation`.
 */

/**
 * - `user+namespace`: the platform runs as root; each app × environment has its own OS user and
 *   group, and a private mount and process view (bubblewrap) hides the data directories.
 * - `namespace`: the platform runs as an ordinary user; a private mount and process view hides
 *   the data directories and the platform user's home.
 * - `user`: root without bubblewrap; own OS user per app × environment, file modes keep it out.
 * - `none`: the code runs as the platform itself and can read everything the platform can.
 */
export type IsolationKind = 'user+namespace' | 'namespace' | 'user' | 'none';

export const ISOLATION_KINDS: readonly IsolationKind[] = ['user+namespace', 'namespace', 'user', 'none'];

/** Who runs: one OS account per app and scope (an environment name, or `pipeline`). */
export interface Principal {
  app: string;
  scope: string;
}

export interface LaunchRequest {
  principal: Principal;
  /** Shell command (run by /bin/sh -c). */
  command: string;
  /** Absolute working directory (a release or a run's workspace): visible even when under a hidden directory. */
  workDir: string;
  /** Whether the command may write its working directory (a workspace may; a release may not). */
  writable: boolean;
  /** Where the command starts, inside `workDir` (default: `workDir`). */
  cwd?: string;
  /** A writable HOME of its own (a run's), visible and owned like a workspace; default: /tmp. */
  home?: string;
}

/** How to spawn: `spawn(file, args, { uid, gid, env: { ...env, ...launch.env } })`. */
export interface Launch {
  file: string;
  args: string[];
  uid?: number;
  gid?: number;
  /** Variables that replace the caller's (HOME and TMPDIR point inside the sandbox). */
  env: Record<string, string>;
}

export interface Isolation {
  readonly kind: IsolationKind;
  /** One line for logs and `status`: what the code runs as and what it cannot see. */
  readonly summary: string;
  /** Prepares the principal (its OS account, its working directory's ownership) and says how to spawn. */
  launch(req: LaunchRequest): Promise<Launch>;
}

export const isIsolated = (kind: IsolationKind): boolean => kind !== 'none';
