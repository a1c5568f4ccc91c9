/** `rollgate users [list|add|set|rm|unlock]`: manage accounts (needs users.manage, i.e. an admin). */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { z } from 'zod';
import type { UserView } from '../../engine/auth/accounts.js';
import { createUser, deleteUser, listUsers, unlockUser, updateUser } from '../client-auth.js';
import { ClientOpts, action, clientFor, clientOptions, parseArg } from '../command.js';
import { formatTime, table } from '../format.js';
import { UsageError } from '../exit.js';
import { readPassword } from './auth.js';

const UserName = z.string().regex(/^[a-z][a-z0-9._-]{0,62}$/, { message: 'user names are lower-case letters, digits, ".", "_" and "-", starting with a letter' });
const Roles = z.array(z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { message: 'role names are lower-case letters, digits and dashes' }));
const collect = (v: string, prev: string[] = []) => [...prev, v];

const AddOpts = ClientOpts.extend({ role: Roles.min(1, { message: 'give at least one --role (viewer, developer, release-manager, admin or a custom one)' }), passwordStdin: z.boolean().optional(), password: z.boolean().default(true) });
const SetOpts = ClientOpts.extend({
  role: Roles.optional(),
  disable: z.boolean().optional(),
  enable: z.boolean().optional(),
  resetPassword: z.boolean().optional(),
  passwordStdin: z.boolean().optional(),
  removePassword: z.boolean().optional(),
});

const UnlockOpts = ClientOpts.extend({ address: z.string().trim().refine((a) => isIP(a) !== 0, { message: '--address takes an IPv4 or IPv6 address, e.g. 192.0.2.7' }).optional() });

export function userTable(list: UserView[]): string {
  return table(
    ['name', 'roles', 'status', 'password', 'created'],
    list.map((u) => [u.name, u.roles.join(', '), u.disabled ? 'disabled' : 'enabled', u.hasPassword ? 'yes' : 'no (tokens only)', formatTime(u.createdAt)]),
  );
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('user accounts and their roles (admins)');

  clientOptions(users.command('list', { isDefault: true }).description('list users')).action(
    action(ClientOpts, async (opts, { out }) => {
      const list = await listUsers(clientFor(opts));
      out.result(list, () => (list.length ? userTable(list) : 'no users'));
    }),
  );

  clientOptions(
    users
      .command('add')
      .description('add a user; prints a generated password once, unless --password-stdin or --no-password')
      .argument('<name>', 'user name')
      .option('-r, --role <role>', 'a role (repeat for several)', collect)
      .option('--password-stdin', 'read the password from stdin')
      .option('--no-password', 'no password login: the user works with API tokens only'),
  ).action(
    action(AddOpts, async (opts, { out }, nameArg: string) => {
      const name = parseArg(UserName, nameArg, 'user');
      if (opts.passwordStdin && !opts.password) throw new UsageError('give --password-stdin or --no-password, not both');
      const password = opts.passwordStdin ? await readPassword(true) : undefined;
      const r = await createUser(clientFor(opts), { name, roles: opts.role, ...(password !== undefined ? { password } : opts.password ? { generatePassword: true } : {}) });
      out.result(r, () =>
        [
          `added user ${r.user.name} (${r.user.roles.join(', ')})`,
          ...(r.password ? [`password (shown once, give it to ${r.user.name} privately): ${r.password}`] : []),
          ...(r.user.hasPassword ? [] : [`no password: create a token with \`rollgate tokens create --user ${r.user.name}\``]),
        ].join('\n'),
      );
    }),
  );

  clientOptions(
    users
      .command('set')
      .description("change a user's roles, enable or disable it, or reset its password")
      .argument('<name>', 'user name')
      .option('-r, --role <role>', 'the roles from now on (repeat for several)', collect)
      .option('--disable', 'refuse its logins, sessions and tokens')
      .option('--enable', 'allow it again')
      .option('--reset-password', 'set a generated password (printed once); ends its sessions')
      .option('--password-stdin', 'set the password read from stdin; ends its sessions')
      .option('--remove-password', 'no password login any more (tokens only)'),
  ).action(
    action(SetOpts, async (opts, { out }, nameArg: string) => {
      const name = parseArg(UserName, nameArg, 'user');
      if (opts.disable && opts.enable) throw new UsageError('give --disable or --enable, not both');
      if ([opts.resetPassword, opts.passwordStdin, opts.removePassword].filter(Boolean).length > 1) throw new UsageError('give one of --reset-password, --password-stdin, --remove-password');
      const body = {
        ...(opts.role ? { roles: opts.role } : {}),
        ...(opts.disable ? { disabled: true } : opts.enable ? { disabled: false } : {}),
        ...(opts.resetPassword ? { generatePassword: true } : {}),
        ...(opts.removePassword ? { removePassword: true } : {}),
        ...(opts.passwordStdin ? { password: await readPassword(true) } : {}),
      };
      if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give --role, --disable, --enable, --reset-password, --password-stdin or --remove-password');
      const r = await updateUser(clientFor(opts), name, body);
      out.result(r, () =>
        [`user ${r.user.name}: ${r.user.roles.join(', ')}, ${r.user.disabled ? 'disabled' : 'enabled'}`, ...(r.password ? [`new password (shown once): ${r.password}`] : [])].join('\n'),
      );
    }),
  );

  clientOptions(
    users
      .command('unlock')
      .description('clear the login waits of a user name (after failed logins): from one address (and that address\'s own wait), or from every address')
      .argument('<name>', 'user name')
      .option('--address <address>', 'only the waits from this client address'),
  ).action(
    action(UnlockOpts, async (opts, { out }, nameArg: string) => {
      const name = parseArg(UserName, nameArg, 'user');
      const r = await unlockUser(clientFor(opts), name, opts.address);
      out.result(r, () => {
        const where = r.address ? ` from ${r.address}` : '';
        if (r.cleared.length === 0) return `no login waits for ${r.user}${where}; nothing to clear`;
        const lines = r.cleared.map((c) => `  ${c.scope === 'account' ? `${r.user} from ${c.address}` : `${c.address} (all names)`}: ${c.failures} failure(s)${c.blockedUntil ? `, was waiting until ${formatTime(c.blockedUntil)}` : ''}`);
        return [`cleared login waits of ${r.user}${where}:`, ...lines].join('\n');
      });
    }),
  );

  clientOptions(users.command('rm').description('delete a user, its tokens and sessions').argument('<name>', 'user name')).action(
    action(ClientOpts, async (opts, { out }, nameArg: string) => {
      const name = parseArg(UserName, nameArg, 'user');
      const r = await deleteUser(clientFor(opts), name);
      out.result(r, () => `deleted user ${r.deleted.name}; its tokens no longer work`);
    }),
  );
}
