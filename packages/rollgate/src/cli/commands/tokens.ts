/** `rollgate tokens create|list|revoke`: API tokens, shown once, stored only as a hash. */
import type { Command } from 'commander';
import { z } from 'zod';
import type { TokenView } from '../../engine/auth/accounts.js';
import { createToken, listTokens, revokeToken } from '../client-auth.js';
import { ClientOpts, action, clientFor, clientOptions, parseArg } from '../command.js';
import { formatTime, table } from '../format.js';

const Roles = z.array(z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { message: 'role names are lower-case letters, digits and dashes' }));
const UserName = z.string().regex(/^[a-z][a-z0-9._-]{0,62}$/, { message: 'not a user name' });
const TokenId = z.string().regex(/^tok_[0-9a-f]{16}$/, { message: 'token ids look like tok_0123456789abcdef (see `rollgate tokens list`)' });
const collect = (v: string, prev: string[] = []) => [...prev, v];

const CreateOpts = ClientOpts.extend({ role: Roles.optional(), expires: z.string().max(20).default('30d'), name: z.string().min(1).max(100).optional(), user: UserName.optional() });
const ListOpts = ClientOpts.extend({ all: z.boolean().optional(), user: UserName.optional() });

export function tokenTable(list: TokenView[]): string {
  return table(
    ['id', 'user', 'name', 'roles', 'status', 'expires', 'last used', 'created'],
    list.map((t) => [t.id, t.user, t.name, t.roles?.join(', ') ?? "(user's)", t.status, t.expiresAt ? formatTime(t.expiresAt) : 'never', t.lastUsedAt ? formatTime(t.lastUsedAt) : '-', formatTime(t.createdAt)]),
  );
}

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('API tokens for scripts, CI and Alertmanager');

  clientOptions(
    tokens
      .command('create')
      .description('create a token (printed once); its roles can only narrow yours')
      .option('-r, --role <role>', 'limit it to this role (repeat for several; default: the roles of its user)', collect)
      .option('--expires <time>', 'how long it lives: 30d, 12h … or never', '30d')
      .option('--name <name>', 'what it is for, shown in listings')
      .option('--user <name>', "another user's token (admins)"),
  ).action(
    action(CreateOpts, async (opts, { out }) => {
      const t = await createToken(clientFor(opts), { name: opts.name, roles: opts.role, expires: opts.expires, user: opts.user });
      out.result(t, () =>
        [
          t.token,
          `token ${t.id} for ${t.user} (${t.roles?.join(', ') ?? "the user's roles"}), ${t.expiresAt ? `expires ${t.expiresAt}` : 'never expires'}.`,
          'It is shown only now: store it somewhere safe (e.g. ROLLGATE_TOKEN in your CI secrets).',
        ].join('\n'),
      );
    }),
  );

  clientOptions(
    tokens
      .command('list')
      .description('your tokens (admins: --all or --user)')
      .option('--all', "everybody's tokens")
      .option('--user <name>', "one user's tokens"),
  ).action(
    action(ListOpts, async (opts, { out }) => {
      const list = await listTokens(clientFor(opts), { all: opts.all, user: opts.user });
      out.result(list, () => (list.length ? tokenTable(list) : 'no tokens'));
    }),
  );

  clientOptions(tokens.command('revoke').description('revoke a token: the next request with it is refused').argument('<id>', 'token id (tok_…)')).action(
    action(ClientOpts, async (opts, { out }, idArg: string) => {
      const id = parseArg(TokenId, idArg, 'token');
      const t = await revokeToken(clientFor(opts), id);
      out.result(t, () => `revoked token ${t.id} (${t.name}, ${t.user})`);
    }),
  );
}
