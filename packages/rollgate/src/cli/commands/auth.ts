/**
 * `rollgate login`, `rollgate logout`, `rollgate whoami`. Login asks for the password without
 * echo (or reads it from stdin), trades it for an API token and saves that token, 0600, in
 * credentials.json under the user's config directory, keyed by server URL.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { z } from 'zod';
import { ApiClient } from '../client.js';
import { loginForToken, logout, me } from '../client-auth.js';
import { ClientOpts, action, clientFor, clientOptions } from '../command.js';
import { discoverServer, savedCredential, writeCredential } from '../config.js';
import { ApiError, UsageError } from '../exit.js';

const LoginOpts = ClientOpts.extend({
  user: z.string().min(1).max(200).optional(),
  passwordStdin: z.boolean().optional(),
  name: z.string().min(1).max(100).optional(),
  expires: z.string().max(20).default('90d'),
});

/** All of stdin, without one trailing newline. */
export async function readStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** One line typed at the terminal; with `hidden`, not echoed. Prompts go to stderr (stdout may be --json). */
export async function promptLine(question: string, hidden: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new UsageError(`cannot ask "${question.trim()}" without a terminal; pipe the value on stdin`);
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((ok, fail) => {
      let line = '';
      const onData = (s: string) => {
        for (const ch of s) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            return ok(line);
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            return fail(new UsageError('cancelled'));
          }
          if (ch === '\u007f' || ch === '\b') {
            if (line.length) {
              line = line.slice(0, -1);
              if (!hidden) process.stderr.write('\b \b');
            }
            continue;
          }
          line += ch;
          if (!hidden) process.stderr.write(ch);
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/** A password: from stdin when asked or when stdin is not a terminal, else typed without echo. */
export async function readPassword(fromStdin: boolean | undefined, question = 'password: '): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const p = await readStdin();
    if (p === '') throw new UsageError('no password on stdin; pipe it in, or run in a terminal to be asked');
    return p;
  }
  return promptLine(question, true);
}

export function registerAuth(program: Command): void {
  clientOptions(
    program
      .command('login')
      .description('log in with a password and save an API token for this server (in ~/.config/rollgate/credentials.json, mode 0600)')
      .option('-u, --user <name>', 'user name (asked when left out)')
      .option('--password-stdin', 'read the password from stdin (also when stdin is not a terminal)')
      .option('--name <name>', 'name of the saved token (default: cli@<host>)')
      .option('--expires <time>', 'how long the token lives: 30d, 12h … or never', '90d'),
  ).action(
    action(LoginOpts, async (opts, { out }) => {
      const url = discoverServer({ flag: opts.server }).url;
      const user = opts.user ?? (process.stdin.isTTY && !opts.passwordStdin ? await promptLine('user: ', false) : undefined);
      if (!user) throw new UsageError('give --user NAME (the password then comes from stdin)');
      const password = await readPassword(opts.passwordStdin);
      const tokenName = opts.name ?? `cli@${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60) || 'host'}`;
      const created = await loginForToken(url, { user: user.trim().toLowerCase(), password, tokenName, expires: opts.expires });
      const file = writeCredential(process.env, url, { token: created.token, user: created.user, tokenId: created.id, expiresAt: created.expiresAt, savedAt: new Date().toISOString() });
      const doc = { server: url, user: created.user, tokenId: created.id, expiresAt: created.expiresAt, credentials: file };
      out.result(doc, () => `logged in to ${url} as ${created.user}; token ${created.id} saved in ${file}${created.expiresAt ? `, valid until ${created.expiresAt}` : ''}`);
    }),
  );

  clientOptions(program.command('logout').description('revoke the saved token of this server and forget it')).action(
    action(ClientOpts, async (opts, { out }) => {
      const url = discoverServer({ flag: opts.server }).url;
      const saved = savedCredential(process.env, url, new Date(0));
      if (!saved) {
        out.result({ server: url, loggedOut: false }, () => `not logged in to ${url} (no saved token)`);
        return;
      }
      let revoked = true;
      try {
        await logout(new ApiClient(url, saved.token));
      } catch (e) {
        // Already revoked or expired, or the server is gone: forgetting it locally is what is left.
        revoked = false;
        if (!(e instanceof ApiError && e.status === 401)) out.warn(`could not revoke the token on the server (${e instanceof Error ? e.message : String(e)}); forgetting it here anyway`);
      }
      writeCredential(process.env, url, null);
      out.result({ server: url, loggedOut: true, revoked, tokenId: saved.tokenId }, () => `logged out of ${url}${revoked ? ` (token ${saved.tokenId} revoked)` : ''}`);
    }),
  );

  clientOptions(program.command('whoami').description('who the CLI acts as on this server, and with which roles')).action(
    action(ClientOpts, async (opts, { out }) => {
      const m = await me(clientFor(opts));
      out.result(m, () => `${m.user} (${m.roles.join(', ') || 'no roles'}) via ${m.via}${m.tokenId ? ` ${m.tokenId}` : ''}${m.expiresAt ? `, until ${m.expiresAt}` : ''}`);
    }),
  );
}
