/**
 * `rollgate flags list|get|create|update|set|enable|disable [--now]|archive|import` (rollout and
 * schedule: flag-rollouts.ts; propose, requests, approve, reject, cancel: flag-change-requests.ts) and
 * `rollgate flags key create|list|revoke`: feature flags of an app, their rules per environment,
 * and the SDK keys apps read them with. A key is printed once, when it is created.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { AppName, EnvName } from '../../api/contract.js';
import { MAX_IMPORT_BYTES } from '../../flags/inputs.js';
import { FlagName } from '../../flags/rules-schema.js';
import { FLAG_KEY_KINDS, FLAG_KINDS } from '../../store/flags-types.js';
import { flagsClient, type FlagDetail, type FlagKeyRecord, type FlagRecord, type FlagStateResult, type FlagView } from '../client-flags.js';
import { ClientOpts, IntString, action, clientFor, clientOptions, parseArg } from '../command.js';
import { UsageError } from '../exit.js';
import { formatTime, table } from '../format.js';
import { flagRolloutsClient } from '../client-flag-rollouts.js';
import { rolloutLine } from '../flag-rollout-text.js';
import { registerFlagRollouts } from './flag-rollouts.js';
import { changeRequestsClient } from '../client-flag-change-requests.js';
import { registerFlagChangeRequests, requestLine } from './flag-change-requests.js';

const AppOpts = ClientOpts.extend({ app: AppName });
const EnvOpts = AppOpts.extend({ env: EnvName });
const Lifetime = z.union([z.literal('permanent').transform(() => null), IntString(1, 3650)], { error: 'give a number of days (1 to 3650) or "permanent"' });
const MetaOpts = AppOpts.extend({ kind: z.enum(FLAG_KINDS).optional(), owner: z.string().optional(), description: z.string().optional(), lifetime: Lifetime.optional() });
const ListOpts = AppOpts.extend({ env: EnvName.optional(), archived: z.boolean().optional() });
const SetOpts = EnvOpts.extend({ file: z.string().min(1) });
const KillOpts = EnvOpts.extend({ now: z.boolean().optional(), reason: z.string().optional() });
const KeyCreateOpts = EnvOpts.extend({ kind: z.enum(FLAG_KEY_KINDS), name: z.string().optional() });
const StaleOpts = AppOpts.extend({ days: IntString(1, 3650).optional() });
const KeyListOpts = AppOpts.extend({ env: EnvName.optional() });
const KeyId = z.string().regex(/^fk_[0-9a-f]{16}$/, { message: 'SDK key ids look like fk_0123456789abcdef (see `rollgate flags key list`)' });

const flagArg = (v: string) => parseArg(FlagName, v, 'flag');
const appOption = (cmd: Command) => cmd.requiredOption('-a, --app <app>', 'app name');
const envOption = (cmd: Command) => cmd.requiredOption('-e, --env <env>', 'environment');

export async function readJsonFile(file: string, what: string): Promise<unknown> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (size > MAX_IMPORT_BYTES) throw new UsageError(`${file} is ${size} bytes; ${what} is at most ${MAX_IMPORT_BYTES / 1024 / 1024} MiB`);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (e) {
    throw new UsageError(`${file} is not JSON (${e instanceof Error ? e.message : String(e)}); ${what} is a JSON document`);
  }
}

const onOff = (enabled: boolean) => (enabled ? 'on' : 'off');
const lifetime = (f: Pick<FlagRecord, 'lifetimeDays'>) => (f.lifetimeDays === null ? 'permanent' : `${f.lifetimeDays} days`);

function envCell(v: FlagView, env: string): string {
  const s = v.environments.find((e) => e.env === env);
  if (!s) return '-';
  return s.rollout === null ? onOff(s.enabled) : `${onOff(s.enabled)} ${s.rollout}%`;
}

export function flagTable(list: FlagView[], env?: string): string {
  if (env !== undefined) {
    return table(
      ['name', 'kind', env, 'strategies', 'owner', 'updated'],
      list.map((f) => {
        const s = f.environments.find((e) => e.env === env);
        return [f.name, f.kind, envCell(f, env), s ? String(s.strategies) : '-', f.owner ?? '-', s ? formatTime(s.updatedAt) : '-'];
      }),
    );
  }
  return table(
    ['name', 'kind', 'environments', 'owner', 'stale after'],
    list.map((f) => [f.name, f.archived ? `${f.kind} (archived)` : f.kind, f.environments.map((e) => `${e.env}: ${envCell(f, e.env)}`).join(', ') || '-', f.owner ?? '-', f.staleAfter ? formatTime(f.staleAfter) : 'never']),
  );
}

export function keyTable(list: FlagKeyRecord[]): string {
  return table(
    ['id', 'env', 'kind', 'name', 'key', 'status', 'created', 'by'],
    list.map((k) => [k.id, k.env, k.kind, k.name, `${k.prefix}…`, k.revokedAt ? `revoked ${formatTime(k.revokedAt)}` : 'active', formatTime(k.createdAt), k.createdBy]),
  );
}

/** "flexibleRollout rollout=30 stickiness=default (1 constraint); default": one environment's strategies in a line. */
export function strategiesText(state: FlagDetail['states'][string]): string {
  const list = state.strategies ?? [];
  if (list.length === 0) return state.enabled ? 'no strategies: on for everyone' : 'no strategies';
  return list
    .map((st) => {
      const params = Object.entries(st.parameters ?? {}).map(([k, v]) => `${k}=${String(v)}`);
      const extra = [st.constraints?.length ? `${st.constraints.length} constraint${st.constraints.length === 1 ? '' : 's'}` : '', st.segments?.length ? `segments ${st.segments.join(',')}` : '', st.disabled ? 'disabled' : ''].filter(Boolean);
      return [st.name, ...params].join(' ') + (extra.length ? ` (${extra.join(', ')})` : '');
    })
    .join('; ');
}

export function stateLine(verb: string, r: FlagStateResult): string {
  return `${r.flag} in ${r.env}: ${verb} (revision ${r.revision})`;
}

export function registerFlags(program: Command): void {
  const flags = program.command('flags').description('feature flags: deploy is not release; turn features on per environment, roll them out by percentage');

  clientOptions(appOption(flags.command('list').description("an app's flags and where they are on")).option('-e, --env <env>', 'one environment in detail').option('--archived', 'archived flags too')).action(
    action(ListOpts, async (opts, { out }) => {
      const list = await flagsClient(clientFor(opts)).list(opts.app, opts.archived === true);
      out.result(list, () => (list.length ? flagTable(list, opts.env) : `${opts.app} has no flags; create one with \`rollgate flags create NAME --app ${opts.app}\``));
    }),
  );

  clientOptions(appOption(flags.command('stale').description('flags that should go: past their expected lifetime, on or off for everyone for --days, or not evaluated by any SDK for --days')).option('--days <n>', 'how long counts as stale (default 30)')).action(
    action(StaleOpts, async (opts, { out }) => {
      const list = await flagsClient(clientFor(opts)).stale(opts.app, opts.days);
      out.result(list, () =>
        list.length
          ? table(['FLAG', 'KIND', 'OWNER', 'WHY'], list.map((f) => [f.name, f.kind, f.owner ?? '-', f.reasons.map((r) => r.detail).join('; ')]))
          : `no stale flags in ${opts.app}`,
      );
    }),
  );

  clientOptions(appOption(flags.command('get').description('a flag: what it is, and its rules in every environment').argument('<flag>', 'flag name'))).action(
    action(AppOpts, async (opts, { out }, flagName: string) => {
      const client = clientFor(opts);
      const f = await flagsClient(client).get(opts.app, flagArg(flagName));
      const rollouts = (await flagRolloutsClient(client).active({ app: opts.app })).filter((r) => r.flag === f.name);
      const changeRequests = await changeRequestsClient(client).list({ app: opts.app, flag: f.name });
      out.result({ ...f, rollouts, changeRequests }, () =>
        [
          `flag ${f.name} of ${f.app}: ${f.kind}, owner ${f.owner ?? '-'}${f.archived ? `, archived ${formatTime(f.archivedAt)} by ${f.archivedBy ?? '-'}` : ''}`,
          ...(f.description ? [`description: ${f.description}`] : []),
          `lifetime: ${lifetime(f)}${f.staleAfter ? ` (stale after ${formatTime(f.staleAfter)})` : ''}; created ${formatTime(f.createdAt)} by ${f.createdBy}`,
          f.environments.length
            ? table(
                ['env', 'enabled', 'rollout', 'strategies', 'updated', 'by'],
                f.environments.map((e) => [e.env, onOff(e.enabled), e.rollout === null ? '-' : `${e.rollout}%`, String(e.strategies), formatTime(e.updatedAt), e.updatedBy]),
              )
            : 'not set in any environment yet',
          ...f.environments.map((e) => `${e.env}: ${strategiesText(f.states[e.env]!)}`),
          ...rollouts.map((r) => rolloutLine(r)),
          ...changeRequests.map((r) => requestLine(r)),
        ].join('\n'),
      );
    }),
  );

  const meta = (cmd: Command) =>
    clientOptions(
      appOption(cmd.argument('<flag>', 'flag name'))
        .option('--kind <kind>', `${FLAG_KINDS.join(' | ')}`)
        .option('--owner <owner>', 'who answers for it (default: you)')
        .option('--description <text>', 'what it is for')
        .option('--lifetime <days>', 'days it is expected to live, or "permanent" (default by kind: release and experiment 40, operational 7, kill-switch and permission permanent)'),
    );

  meta(flags.command('create').description('create a flag (off everywhere until enabled or set in an environment)')).action(
    action(MetaOpts, async (opts, { out }, flagName: string) => {
      const f = await flagsClient(clientFor(opts)).create(opts.app, { name: flagArg(flagName), kind: opts.kind, owner: opts.owner, description: opts.description, lifetimeDays: opts.lifetime });
      out.result(f, () => `created flag ${f.name} of ${f.app} (${f.kind}, ${lifetime(f)}); enable it with \`rollgate flags enable ${f.name} --app ${f.app} --env ENV\``);
    }),
  );

  meta(flags.command('update').description("change a flag's kind, owner, description or lifetime")).action(
    action(MetaOpts, async (opts, { out }, flagName: string) => {
      const f = await flagsClient(clientFor(opts)).update(opts.app, flagArg(flagName), {
        ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
        ...(opts.owner !== undefined ? { owner: opts.owner } : {}),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
        ...(opts.lifetime !== undefined ? { lifetimeDays: opts.lifetime } : {}),
      });
      out.result(f, () => `updated flag ${f.name} of ${f.app} (${f.kind}, ${lifetime(f)}, owner ${f.owner ?? '-'})`);
    }),
  );

  clientOptions(envOption(appOption(flags.command('set').description("replace a flag's rules in an environment with an Unleash feature from a JSON file").argument('<flag>', 'flag name').requiredOption('--file <path>', 'the feature as JSON')))).action(
    action(SetOpts, async (opts, { out }, flagName: string) => {
      const feature = await readJsonFile(opts.file, 'a flag state');
      const r = await flagsClient(clientFor(opts)).set(opts.app, opts.env, flagArg(flagName), feature);
      out.result(r, () => stateLine(`rules set, ${onOff(r.state.enabled)}`, r));
    }),
  );

  clientOptions(envOption(appOption(flags.command('enable').description('turn a flag on in an environment').argument('<flag>', 'flag name')))).action(
    action(EnvOpts, async (opts, { out }, flagName: string) => {
      const r = await flagsClient(clientFor(opts)).enable(opts.app, opts.env, flagArg(flagName));
      out.result(r, () => stateLine('on', r));
    }),
  );
  clientOptions(
    envOption(appOption(flags.command('disable').description('turn a flag off in an environment; --now is the kill switch: off at once, even where changes need a change request (permission flags.kill)').argument('<flag>', 'flag name')))
      .option('--now', 'the kill switch: no change request, recorded as a kill (flag.kill)')
      .option('--reason <text>', 'why, with --now (on the trail)'),
  ).action(
    action(KillOpts, async (opts, { out }, flagName: string) => {
      if (opts.reason !== undefined && !opts.now) throw new UsageError('--reason goes with --now (the kill switch); a change request takes its reason with `rollgate flags propose`');
      const client = clientFor(opts);
      const r = opts.now ? await changeRequestsClient(client).kill(opts.app, opts.env, flagArg(flagName), opts.reason) : await flagsClient(client).disable(opts.app, opts.env, flagArg(flagName));
      out.result(r, () => stateLine(opts.now ? 'off (kill switch)' : 'off', r));
    }),
  );

  registerFlagRollouts(flags);
  registerFlagChangeRequests(flags);

  clientOptions(appOption(flags.command('archive').description('archive a flag: it leaves every environment, and can no longer change').argument('<flag>', 'flag name'))).action(
    action(AppOpts, async (opts, { out }, flagName: string) => {
      const f = await flagsClient(clientFor(opts)).archive(opts.app, flagArg(flagName));
      out.result(f, () => `archived flag ${f.name} of ${f.app}; SDKs no longer get it in any environment`);
    }),
  );

  clientOptions(
    envOption(appOption(flags.command('import').description('import a {version, features, segments} file into an environment: its flags get the file\'s rules (created when new); other flags stay as they are').argument('<file>', 'the JSON file'))),
  ).action(
    action(EnvOpts, async (opts, { out }, file: string) => {
      const doc = await readJsonFile(file, 'an import file');
      const r = await flagsClient(clientFor(opts)).import(opts.app, opts.env, doc);
      out.result(r, () => `imported ${r.created.length + r.updated.length} flags into ${r.app} in ${r.env} (${r.created.length} created, ${r.updated.length} updated, ${r.segments.length} segments); revision ${r.revision}`);
    }),
  );

  const key = flags.command('key').description('SDK keys: what an app presents to read its flags in one environment');
  clientOptions(
    envOption(appOption(key.command('create').description('create an SDK key (printed once)')))
      .requiredOption('--kind <kind>', 'server (every rule, for back ends) or client (evaluated answers, for browsers and phones)')
      .option('--name <name>', 'what it is for, shown in listings'),
  ).action(
    action(KeyCreateOpts, async (opts, { out }) => {
      const k = await flagsClient(clientFor(opts)).createKey(opts.app, opts.env, { kind: opts.kind, ...(opts.name !== undefined ? { name: opts.name } : {}) });
      // With --json, exactly the key: a script stores it and nothing else.
      out.result({ key: k.key }, () => [k.key, `SDK key ${k.id} (${k.kind}) for ${k.app} in ${k.env}.`, 'It is shown only now: store it where the app reads its configuration.'].join('\n'));
    }),
  );
  clientOptions(appOption(key.command('list').description("an app's SDK keys (prefixes only)")).option('-e, --env <env>', 'only this environment')).action(
    action(KeyListOpts, async (opts, { out }) => {
      const list = await flagsClient(clientFor(opts)).listKeys(opts.app, opts.env);
      out.result(list, () => (list.length ? keyTable(list) : `${opts.app} has no SDK keys${opts.env ? ` in ${opts.env}` : ''}`));
    }),
  );
  clientOptions(envOption(appOption(key.command('revoke').description('revoke an SDK key: the next request with it is refused').argument('<id>', 'key id (fk_…)')))).action(
    action(EnvOpts, async (opts, { out }, idArg: string) => {
      const k = await flagsClient(clientFor(opts)).revokeKey(opts.app, opts.env, parseArg(KeyId, idArg, 'key'));
      out.result(k, () => `revoked SDK key ${k.id} (${k.prefix}…) of ${k.app} in ${k.env}`);
    }),
  );
}
