/**
 * A private mount and process view made by bubblewrap: the root file system read-only, a fresh
 * /tmp, the data directories (and the platform user's home) replaced by empty ones holding only
 * the command's own working directory, and a PID namespace so no platform process is visible in
 * /proc. As root it also drops to the app × environment's own account.
 */
import { homedir } from 'node:os';
import { ancestorsInside, hiddenRoots } from './hidden-paths.js';
import type { OsAccounts } from './os-accounts.js';
import { dropToAccount } from './setpriv.js';
import type { Isolation, Launch, LaunchRequest } from './types.js';

export interface NamespaceOptions {
  bwrap: string;
  /** Directories the code must not see (data directories). /tmp and the home directory are always hidden. */
  hide: readonly string[];
  /** Set when the platform is root: each principal runs as its own account. */
  accounts?: OsAccounts;
}

export function bubblewrapArgs(hide: readonly string[], workDir: string, writable: boolean): string[] {
  const roots = hiddenRoots(['/tmp', ...hide]);
  const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--proc', '/proc'];
  for (const r of roots) args.push('--perms', '0755', '--tmpfs', r);
  for (const a of ancestorsInside(workDir, roots)) args.push('--perms', '0755', '--dir', a);
  args.push(writable ? '--bind' : '--ro-bind', workDir, workDir, '--chdir', workDir);
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
      : 'namespace: a bubblewrap sandbox that hides the data directory, /tmp and the platform user\'s home';
  }

  async launch(req: LaunchRequest): Promise<Launch> {
    const args = bubblewrapArgs(this.hide, req.workDir, req.writable);
    args.push('--');
    if (this.o.accounts) {
      const account = await this.o.accounts.ensure(req.principal);
      await this.o.accounts.prepareDir(req.workDir, account, req.writable);
      args.push(...dropToAccount(account, req.command));
    } else {
      args.push('/bin/sh', '-c', req.command);
    }
    return { file: this.o.bwrap, args, env: { HOME: '/tmp', TMPDIR: '/tmp' } };
  }
}
