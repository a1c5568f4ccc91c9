/**
 * Chooses the strongest isolation this host offers: root → own OS users (+ bubblewrap when
 * installed); an ordinary user → bubblewrap when it works (user namespaces allowed); else none,
 * which the caller must say loudly.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { RollgateError } from '../core/errors.js';
import { NamespaceLaunch } from './namespace.js';
import { OsAccounts } from './os-accounts.js';
import { UserLaunch } from './os-user.js';
import { PlainLaunch } from './plain.js';
import { SETPRIV } from './setpriv.js';
import { ISOLATION_KINDS, type Isolation, type IsolationKind } from './types.js';

export type IsolationChoice = 'auto' | IsolationKind;

export interface DetectOptions {
  /** Directories the code must not see (the data directories). */
  hide: readonly string[];
  /** `auto` (default) takes the strongest available; a kind insists on it. */
  choice?: IsolationChoice;
  /** Prefix of the OS accounts made as root (tests use their own). */
  accountPrefix?: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findBubblewrap(): string | null {
  for (const p of ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap']) {
    if (!executable(p)) continue;
    // Installed is not enough: an ordinary user needs unprivileged user namespaces.
    const probe = spawnSync(p, ['--ro-bind', '/', '/', '--dev', '/dev', '--unshare-pid', '--proc', '/proc', '--', '/bin/true'], { timeout: 5000, stdio: 'ignore' });
    if (probe.status === 0) return p;
  }
  return null;
}

const canMakeAccounts = () => process.getuid?.() === 0 && executable(SETPRIV) && ['/usr/sbin/useradd', '/sbin/useradd'].some(executable);

export interface Availability {
  available: IsolationKind[];
  why: Partial<Record<IsolationKind, string>>;
}

export function availableIsolation(): Availability & { bwrap: string | null } {
  const bwrap = findBubblewrap();
  const root = process.getuid?.() === 0;
  const accounts = canMakeAccounts();
  const why: Availability['why'] = {};
  const available: IsolationKind[] = [];
  if (root && accounts && bwrap) available.push('user+namespace');
  else why['user+namespace'] = !root ? 'the platform does not run as root' : !accounts ? 'useradd or setpriv is missing' : 'bubblewrap is not installed (apt-get install bubblewrap)';
  if (bwrap) available.push('namespace');
  else why.namespace = 'bubblewrap is not installed or cannot make a user namespace here (apt-get install bubblewrap; sysctl kernel.unprivileged_userns_clone=1)';
  if (root && accounts) available.push('user');
  else why.user = root ? 'useradd or setpriv is missing' : 'the platform does not run as root';
  available.push('none');
  return { available, why, bwrap };
}

export function detectIsolation(o: DetectOptions): Isolation {
  const choice = o.choice ?? 'auto';
  if (choice === 'none') return new PlainLaunch();
  const { available, why, bwrap } = availableIsolation();
  const kind = choice === 'auto' ? available[0]! : choice;
  if (!ISOLATION_KINDS.includes(kind)) throw new RollgateError('invalid_input', `isolation "${choice}" is unknown; use auto, ${ISOLATION_KINDS.join(', ')}`);
  if (!available.includes(kind)) throw new RollgateError('invalid_input', `isolation "${kind}" is not available here: ${why[kind]}; use --isolation auto to take the strongest available`);
  const accounts = () => new OsAccounts(o.accountPrefix);
  switch (kind) {
    case 'user+namespace':
      return new NamespaceLaunch({ bwrap: bwrap!, hide: o.hide, accounts: accounts() });
    case 'namespace':
      // Root asked for the namespace alone: the code runs as root inside it.
      return new NamespaceLaunch({ bwrap: bwrap!, hide: o.hide });
    case 'user':
      return new UserLaunch({ accounts: accounts() });
    case 'none':
      return new PlainLaunch();
  }
}
