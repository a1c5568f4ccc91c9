/**
 * The OS accounts untrusted code runs as when the platform is root: one user and group per app ×
 * scope (environment or `pipeline`), plus one group per app that may read the app's releases
 * (a release is shared by the app's environments, and read-only for all of them).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { RollgateError } from '../core/errors.js';
import type { Principal } from './types.js';

const run = promisify(execFile);

export interface Account {
  user: string;
  uid: number;
  gid: number;
  /** The app's group: may read the app's releases. */
  appGid: number;
}

const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 10);

/** `getent` field list, or null when the name is unknown (exit code 2). */
async function getent(db: 'passwd' | 'group', name: string): Promise<string[] | null> {
  try {
    const { stdout } = await run('getent', [db, name]);
    return stdout.trim().split(':');
  } catch (e) {
    if ((e as { code?: unknown }).code === 2) return null;
    throw e;
  }
}

/** Exit code 9 of useradd/groupadd: the name exists (another server made it first). */
async function create(cmd: string, args: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await run(cmd, args);
      return;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 9) return;
      // Another process is making an account (another agent, a test) and holds the lock: useradd
      // says so with exit 1 ("cannot lock /etc/passwd; try again later"), groupadd with 10; try again.
      const locked = code === 10 || /cannot lock|try again later/i.test(String((e as { stderr?: unknown }).stderr ?? ''));
      if (locked && attempt < 40) {
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
        continue;
      }
      throw new RollgateError('internal', `could not create an OS account for isolation (${cmd} ${args.join(' ')}): ${(e as Error).message.trim()}`);
    }
  }
}

export class OsAccounts {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly known = new Map<string, Account>();
  private readonly prepared = new Set<string>();

  /** @param prefix of every user and group name (tests use their own, and remove them). */
  constructor(readonly prefix = process.env.ROLLGATE_ISOLATION_ACCOUNT_PREFIX ?? 'rg') {
    if (!/^[a-z][a-z0-9]{0,11}$/.test(prefix)) throw new RollgateError('invalid_input', `isolation account prefix "${prefix}" must be 1-12 lower-case letters and digits, starting with a letter`);
  }

  userName(p: Principal): string {
    return `${this.prefix}-${hash(`${p.app}\0${p.scope}`)}`;
  }

  appGroupName(app: string): string {
    return `${this.prefix}a-${hash(app)}`;
  }

  /** The principal's account, made on first use (serialized: useradd locks /etc/passwd). */
  ensure(p: Principal): Promise<Account> {
    const user = this.userName(p);
    const cached = this.known.get(user);
    if (cached) return Promise.resolve(cached);
    const next = this.chain.then(async () => {
      const again = this.known.get(user);
      if (again) return again;
      const group = this.appGroupName(p.app);
      if (!(await getent('group', group))) await create('groupadd', ['--system', group]);
      if (!(await getent('passwd', user))) {
        const comment = `rollgate ${p.app} ${p.scope}`.replace(/[^\w .-]/g, '_').slice(0, 60);
        await create('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', comment, user]);
      }
      const pw = await getent('passwd', user);
      const gr = await getent('group', group);
      if (!pw || !gr) throw new RollgateError('internal', `OS account ${user} or group ${group} is missing right after it was made`);
      const account: Account = { user, uid: Number(pw[2]), gid: Number(pw[3]), appGid: Number(gr[2]) };
      this.known.set(user, account);
      return account;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * A workspace becomes the account's own; a release becomes readable by the app's group only
   * (owner root, no access for others). Done once per directory and account.
   */
  async prepareDir(dir: string, account: Account, writable: boolean): Promise<void> {
    const key = `${dir}\0${writable ? account.uid : `g${account.appGid}`}`;
    if (this.prepared.has(key)) return;
    try {
      if (writable) {
        await run('chown', ['-R', '-h', `${account.uid}:${account.gid}`, dir]);
      } else {
        await run('chown', ['-R', '-h', `0:${account.appGid}`, dir]);
        await run('chmod', ['-R', 'u=rwX,g=rX,o=', dir]);
      }
    } catch (e) {
      throw new RollgateError('internal', `could not give ${dir} to the isolated account ${account.user}: ${(e as Error).message.trim()}`);
    }
    this.prepared.add(key);
  }
}

/** Removes every user and group whose name starts with `${prefix}-` or `${prefix}a-` (test runs clean up with it). */
export async function removeAccounts(prefix: string): Promise<void> {
  const names = (file: string) => readFile(file, 'utf8').then((t) => t.split('\n').map((l) => l.split(':')[0] ?? '').filter((n) => n.startsWith(`${prefix}-`) || n.startsWith(`${prefix}a-`)));
  for (const u of await names('/etc/passwd')) await run('userdel', [u]).catch(() => undefined);
  for (const g of await names('/etc/group')) await run('groupdel', [g]).catch(() => undefined);
}
