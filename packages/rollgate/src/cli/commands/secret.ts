/**
 * `rollgate secret set|rotate|list|rm`. A value is read from --file, from stdin when it is piped,
 * or from a prompt that does not echo; never from the command line (shell history, process list).
 * One trailing newline is removed from a file or piped value (`echo` adds one).
 */
import { stat, readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { AppName, EnvName } from '../../api/contract.js';
import { checkSecretName, MAX_SECRET_BYTES } from '../../engine/secrets/secrets.js';
import { listSecrets, removeSecret, rotateSecret, setSecret, type SecretVersionMeta } from '../client-secrets.js';
import { ClientOpts, action, clientFor, clientOptions, parseArg } from '../command.js';
import { UsageError } from '../exit.js';
import { formatTime, table } from '../format.js';

const ValueOpts = ClientOpts.extend({ env: EnvName, file: z.string().min(1).optional() });
const RmOpts = ClientOpts.extend({ env: EnvName });
const ListOpts = ClientOpts.extend({ env: EnvName.optional() });

const NO_ARGUMENT_VALUES =
  'a secret value is never taken from the command line (it would stay in your shell history and show in the process list); pipe it on stdin, use --file, or leave it out to be prompted';

export function stripOneNewline(b: Buffer): Buffer {
  if (b.length >= 2 && b[b.length - 2] === 0x0d && b[b.length - 1] === 0x0a) return b.subarray(0, -2);
  if (b.length >= 1 && b[b.length - 1] === 0x0a) return b.subarray(0, -1);
  return b;
}

async function readFileValue(file: string): Promise<Buffer> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new UsageError(`--file ${file} is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read --file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Two more bytes for a trailing newline that is removed.
  if (size > MAX_SECRET_BYTES + 2) throw new UsageError(`--file ${file} is ${size} bytes; a secret value is at most ${MAX_SECRET_BYTES} bytes (64 KiB)`);
  return stripOneNewline(await readFile(file));
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > MAX_SECRET_BYTES + 2) throw new UsageError(`the value on stdin is over ${MAX_SECRET_BYTES} bytes (64 KiB), the most a secret may hold`);
    chunks.push(chunk);
  }
  return stripOneNewline(Buffer.concat(chunks));
}

/**
 * Reads one line per prompt from the terminal without echoing them. One raw-mode session for all
 * prompts, entered before the first prompt shows, so nothing typed ahead is ever echoed.
 */
function promptHidden(prompts: string[]): Promise<string[]> {
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  process.stderr.write(prompts[0] ?? '');
  stdin.resume();
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let chars: string[] = [];
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          lines.push(chars.join(''));
          chars = [];
          process.stderr.write('\n');
          if (lines.length === prompts.length) {
            finish();
            resolve(lines);
            return;
          }
          process.stderr.write(prompts[lines.length]!);
        } else if (ch === '\u0003') {
          finish();
          process.stderr.write('\n');
          reject(new UsageError('cancelled; nothing was changed'));
          return;
        } else if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else if (ch === '\u0015') chars = []; // Ctrl-U clears the line
        else chars.push(ch);
      }
    };
    stdin.on('data', onData);
  });
}

async function readValue(opts: { file?: string | undefined }, what: string): Promise<Buffer> {
  if (opts.file) return readFileValue(opts.file);
  if (!process.stdin.isTTY) return readStdin();
  const [first, again] = await promptHidden([`${what}: `, `${what} (again): `]);
  if (first !== again) throw new UsageError('the two entries differ; nothing was changed');
  return Buffer.from(first ?? '', 'utf8');
}

function valueCommand(cmd: Command): Command {
  return clientOptions(
    cmd
      .argument('<app>', 'app name')
      .argument('<key>', 'secret name, an environment variable name such as DB_PASSWORD')
      .requiredOption('-e, --env <env>', 'environment')
      .option('--file <path>', 'read the value from this file (else from stdin, or a prompt that does not echo)')
      .allowExcessArguments(true),
  );
}

function names(app: string, key: string, cmd: Command): { app: string; key: string } {
  if (cmd.args.length > 2) throw new UsageError(NO_ARGUMENT_VALUES);
  return { app: parseArg(AppName, app, 'app'), key: checkSecretName(key) };
}

export function registerSecret(program: Command): void {
  const secret = program.command('secret').description('secrets of an app in an environment: encrypted at rest, given to its instances as environment variables');

  valueCommand(secret.command('set').description('set a secret (a new version when it exists); the value comes from --file, stdin, or a prompt')).action(
    action(ValueOpts, async (opts, { out, cmd }, appArg: string, keyArg: string) => {
      const { app, key } = names(appArg, keyArg, cmd);
      const value = await readValue(opts, `value of ${key}`);
      const r = await setSecret(clientFor(opts), app, opts.env, key, value);
      out.result(r, () =>
        r.changed ? `set ${r.name} for ${r.app} in ${r.env} (version ${r.version}${r.created ? ', new' : ''})` : `${r.name} of ${r.app} in ${r.env} already has this value (version ${r.version}); nothing changed`,
      );
    }),
  );

  valueCommand(secret.command('rotate').description('give an existing secret a new value (a new version)')).action(
    action(ValueOpts, async (opts, { out, cmd }, appArg: string, keyArg: string) => {
      const { app, key } = names(appArg, keyArg, cmd);
      const value = await readValue(opts, `new value of ${key}`);
      const r = await rotateSecret(clientFor(opts), app, opts.env, key, value);
      out.result(r, () => `rotated ${r.name} of ${r.app} in ${r.env}: version ${r.previousVersion} -> ${r.version}`);
    }),
  );

  clientOptions(
    secret
      .command('list')
      .description('names and versions of an app\'s secrets (never values)')
      .argument('<app>', 'app name')
      .option('-e, --env <env>', 'only this environment'),
  ).action(
    action(ListOpts, async (opts, { out }, appArg: string) => {
      const app = parseArg(AppName, appArg, 'app');
      const list = await listSecrets(clientFor(opts), app, opts.env);
      out.result(list, () => (list.length === 0 ? `${app} has no secrets${opts.env ? ` in ${opts.env}` : ''}` : secretTable(list)));
    }),
  );

  clientOptions(
    secret
      .command('rm')
      .description('remove a secret (every version); instances started afterwards no longer get it')
      .argument('<app>', 'app name')
      .argument('<key>', 'secret name')
      .requiredOption('-e, --env <env>', 'environment'),
  ).action(
    action(RmOpts, async (opts, { out, cmd }, appArg: string, keyArg: string) => {
      const { app, key } = names(appArg, keyArg, cmd);
      const r = await removeSecret(clientFor(opts), app, opts.env, key);
      out.result(r, () => `removed ${r.name} of ${r.app} in ${r.env} (version${r.versions.length === 1 ? '' : 's'} ${r.versions.join(', ')})`);
    }),
  );
}

export function secretTable(list: SecretVersionMeta[]): string {
  return table(
    ['env', 'name', 'version', 'set at', 'by'],
    list.map((s) => [s.env, s.name, String(s.version), formatTime(s.createdAt), s.createdBy]),
  );
}
