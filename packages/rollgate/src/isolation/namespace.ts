/**
 * A private mount and process view made by bubblewrap: the root file system read-only but /tmp, the data directories (and the platform user's home) replaced by empty ones holding only
 * the command's own working directory, and a PID namespace so no platform process is visible in
 * /proc. As root it also drops to the app × environment's own account.
 */
import { homedir } from 'node:os';
import { ancestorsInside, firstClosedAncestor, hiddenRoots } from './hidden-paths.js';
import type { OsAccounts } from './os-accounts.js';
import { dropToAccount } from './setpriv.js';
import type { Isolation, Launch, LaunchRequest } from './types.js';

export interface NamespaceOptions {
  bwrap: string;
  /** Directories the code must not see (data directories). The platform user's home is always hidden. */
  hide: readonly string[];
  /** Set when the platform is root: each principal runs as its own account. */
  accounts?: OsAccounts;
}

export function bubblewrapArgs(hide: readonly string[], workDir: string, writable: boolean, cwd = workDir, home?: string): string[] {
  const roots = hiddenRoots(hide);
  // /tmp stays the host's (a checkout or a fixture may live there); the data directories hidden below may be inside it.
  const args = ['--ro-bind', '/', '/', '--bind', '/tmp', '/tmp', '--dev', '/dev', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--proc', '/proc'];
  for (const r of roots) args.push('--perms', '0755', '--tmpfs', r);
  const dirs = new Set([...ancestorsInside(workDir, roots), ...(home ? ancestorsInside(home, roots) : [])]);
  for (const a of [...dirs].sort((x, y) => x.length - y.length)) args.push('--perms', '0755', '--dir', a);
  args.push(writable ? '--bind' : '--ro-bind', workDir, workDir);
  if (home) args.push('--bind', home, home);
  args.push('--chdir', cwd);
  return args;
}

export class NamespaceLaunch implements Isolation {
  readonly kind;
  readonly summary;
  private readonly hide: string[];

  constructor(private readonly o: NamespaceOptions) {
    this.kind = o.accounts ? ('user+namespace' as const) : ('namespace' as const);
    this.hide = [...o.hide, homedir()];
    this.summary = o.accounts
      ? 'user+namespace: an OS user per app and environment, in a bubblewrap sandbox that hides the data directory'
      : 'namespace: a bubblewrap sandbox that hides the data directory and the platform user\'s home';
  }

  async launch(req: LaunchRequest): Promise<Launch> {
    // Another account could not pass a closed directory on the way (a 0700 temp dir): rebuild the path in the sandbox.
    const closed = this.o.accounts ? [req.workDir, ...(req.home ? [req.home] : [])].map(firstClosedAncestor).filter((d): d is string => d !== null) : [];
    const args = bubblewrapArgs([...this.hide, ...closed], req.workDir, req.writable, req.cwd, req.home);
    args.push('--');
    if (this.o.accounts) {
      const account = await this.o.accounts.ensure(req.principal);
      await this.o.accounts.prepareDir(req.workDir, account, req.writable);
      if (req.home) await this.o.accounts.prepareDir(req.home, account, true);
      args.push(...dropToAccount(account, req.command));
    } else {
      args.push('/bin/sh', '-c', req.command);
    }
    return { file: this.o.bwrap, args, env: { HOME: req.home ?? '/tmp', TMPDIR: '/tmp' } };
  }
}
