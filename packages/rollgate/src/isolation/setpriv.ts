/** The step that drops root for an app's account (util-linux `setpriv`, in every Debian base). */
import type { Account } from './os-accounts.js';

export const SETPRIV = '/usr/bin/setpriv';

export function dropToAccount(account: Account, command: string): string[] {
  return [SETPRIV, `--reuid=${account.uid}`, `--regid=${account.gid}`, `--groups=${account.appGid}`, '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--', '/bin/sh', '-c', command];
}
