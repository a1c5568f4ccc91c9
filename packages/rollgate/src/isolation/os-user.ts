/**
 * Root without bubblewrap: each app × environment runs as its own account and file modes keep it
 * out of everything else. The directories on the way to a working directory get search
 * permission for others (o+x: names can be followed, not listed), every file stays 0600: that
 * is why the data directory is 0711 in this mode rather than 0700.
 */
import { chmod, stat } from 'node:fs/promises';
import { ancestorsOf } from './hidden-paths.js';
import type { OsAccounts } from './os-accounts.js';
import { dropToAccount } from './setpriv.js';
import type { Isolation, Launch, LaunchRequest } from './types.js';

export class UserLaunch implements Isolation {
  readonly kind = 'user' as const;
  readonly summary = 'user: an OS user per app and environment (install bubblewrap to also hide the data directory)';

  constructor(private readonly o: { accounts: OsAccounts }) {}

  async launch(req: LaunchRequest): Promise<Launch> {
    const account = await this.o.accounts.ensure(req.principal);
    await this.o.accounts.prepareDir(req.workDir, account, req.writable);
    if (req.home) await this.o.accounts.prepareDir(req.home, account, true);
    for (const dir of new Set([...ancestorsOf(req.workDir), ...(req.home ? ancestorsOf(req.home) : [])])) {
      const mode = (await stat(dir)).mode & 0o7777;
      if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001);
    }
    const [file, ...args] = dropToAccount(account, req.command) as [string, ...string[]];
    return { file, args, env: { HOME: req.home ?? '/tmp', TMPDIR: '/tmp' } };
  }
}
