/**
 * Feature flags of an app: metadata (kind, owner, description, expected lifetime) per app, rules
 * per environment as an Unleash Feature. Every change goes through changes.ts: one transaction
 * with its audit entry, then `flag.changed`. Bad input is refused before anything is written.
 */
import { staleFlags, type StaleFlag } from './stale.js';
import { RollgateError } from '../core/errors.js';
import { EnvironmentSpec, requiresFlagChangeRequests } from '../core/spec.js';
import type { AuditInput } from '../engine/audit.js';
import type { FlagEnvState, FlagRecord, FlagState, FlagStateRecord, FlagsTx } from '../store/flags-types.js';
import type { Store } from '../store/types.js';
import { change, type ChangeDeps, type Moved, type Outcome, type Who } from './changes.js';
import type { CreateFlagBody, KillBody, RolloutBody, UpdateFlagBody } from './inputs.js';
import { stateOf, withFeature } from './feature-state.js';
import { FlagKeys } from './flag-keys.js';
import { FlagChangeRequests, directRefused, pendingApproval, type DirectAction, type StateAction } from './change-requests.js';
import { importState, type ImportResult } from './import.js';
import { DEFAULT_LIFETIME_DAYS } from './kinds.js';
import { newProblems, parseRules, renamer, rulesRefused } from './rules-check.js';
import { FeatureSchema } from './rules-schema.js';
import { FLEXIBLE_ROLLOUT, flexibleRollouts, withPercent } from './percent.js';

export interface FlagsDeps extends Omit<ChangeDeps, 'flags'> {
  store: Store;
  /** The clock change requests expire by (tests). */
  now?: () => number;
}

/** One environment's state of a flag, in a listing. */
export interface FlagEnvSummary {
  env: string;
  enabled: boolean;
  /** The flexibleRollout percentage when the flag has exactly one such strategy, else null. */
  rollout: number | null;
  strategies: number;
  updatedAt: string;
  updatedBy: string;
}

export interface FlagView extends FlagRecord {
  /** When the flag outlives its expected lifetime (null: permanent). */
  staleAfter: string | null;
  environments: FlagEnvSummary[];
}

export interface FlagDetail extends FlagView {
  /** The rules per environment. */
  states: Record<string, FlagState>;
}

export interface FlagStateResult {
  app: string;
  env: string;
  flag: string;
  /** The environment's revision after the change. */
  revision: number;
  state: FlagState;
}

export { FLEXIBLE_ROLLOUT };

function staleAfter(f: FlagRecord): string | null {
  return f.lifetimeDays === null ? null : new Date(Date.parse(f.createdAt) + f.lifetimeDays * 86_400_000).toISOString();
}

function summary(s: FlagStateRecord): FlagEnvSummary {
  const fr = flexibleRollouts(s.state);
  const only = fr.length === 1 ? s.state.strategies![fr[0]!]!.parameters?.rollout : undefined;
  return { env: s.env, enabled: s.state.enabled, rollout: only === undefined ? null : Number(only), strategies: s.state.strategies?.length ?? 0, updatedAt: s.updatedAt, updatedBy: s.updatedBy };
}

export const flagTarget = (app: string, name: string, env?: string) => (env === undefined ? `flag/${app}/${name}` : `flag/${app}/${env}/${name}`);

/** Makes a flag's new state in an environment from its prior one (null: never set there). */
export type MakeState = (prior: FlagState | null, flag: FlagRecord) => FlagState | Promise<FlagState>;

export interface PutState {
  revision: number;
  before: FlagState | null;
  state: FlagState;
  /** Entries the change caused (a rollout it paused), for the change's Outcome. */
  also: AuditInput[];
}

export interface StateChange {
  app: string;
  env: string;
  flag: string;
  prior: FlagState | null;
  state: FlagState;
  actor: string;
}

export type StateHook = (tx: FlagsTx, change: StateChange) => Promise<AuditInput[]>;

/** Thrown to roll a preview's transaction back. */
const PREVIEWED = Symbol('previewed');

export const makeEnabled =
  (enabled: boolean): MakeState =>
  (prior) => ({ ...(prior ?? { strategies: [] }), enabled });

export const makePercent =
  (name: string, env: string, body: RolloutBody): MakeState =>
  (prior) =>
    withPercent(prior, name, env, body.percent, body.strategy);

export class Flags {
  private readonly c: ChangeDeps;
  private stateHook: StateHook | null = null;
  /** SDK keys of the app's environments. */
  readonly keys: FlagKeys;
  /** Proposed changes awaiting approval, in environments that require it (flags/change-requests.ts). */
  readonly changeRequests: FlagChangeRequests;

  constructor(private readonly d: FlagsDeps) {
    this.c = { flags: d.store.flags, audit: d.audit, events: d.events, log: d.log };
    this.keys = new FlagKeys(this, this.c);
    this.changeRequests = new FlagChangeRequests(this, this.c, d.now);
  }

  // ---- reads

  async list(app: string, opts: { archived?: boolean } = {}): Promise<FlagView[]> {
    await this.mustApp(app);
    const [flags, states] = await Promise.all([this.d.store.flags.listFlags(app, opts), this.d.store.flags.appStates(app)]);
    return flags.map((f) => this.view(f, states.filter((s) => s.name === f.name)));
  }

  async get(app: string, name: string): Promise<FlagDetail> {
    const f = await this.mustFlag(app, name);
    const states = await this.d.store.flags.flagStates(app, name);
    return { ...this.view(f, states), states: Object.fromEntries(states.map((s) => [s.env, s.state])) };
  }

  /** Flags that should go: past their lifetime, decided everywhere, or unused for `days` (flags/stale.ts). */
  async stale(app: string, days: number, now = new Date()): Promise<StaleFlag[]> {
    await this.mustApp(app);
    const [flags, states, usage] = await Promise.all([this.d.store.flags.listFlags(app), this.d.store.flags.appStates(app), this.d.store.flagMetrics.usage(app)]);
    return staleFlags(flags, states, usage, days, now);
  }

  /** The delivery state of an (app, env) with its revision (archived flags are not in it). */
  async state(app: string, env: string): Promise<FlagEnvState> {
    await this.mustApp(app);
    await this.mustEnv(env);
    return this.d.store.flags.readState(app, env);
  }

  // ---- the flag itself

  async create(app: string, body: CreateFlagBody, who: Who): Promise<FlagRecord> {
    await this.mustApp(app);
    const kind = body.kind ?? 'release';
    return change(this.c, who, app, 'flag.create', flagTarget(app, body.name), async (tx) => {
      const lifetimeDays = body.lifetimeDays === undefined ? DEFAULT_LIFETIME_DAYS[kind] : body.lifetimeDays;
      const created = await tx.insertFlag({ app, name: body.name, kind, owner: body.owner ?? who.actor, description: body.description ?? '', lifetimeDays, createdBy: who.actor });
      if (!created) {
        const existing = await tx.getFlag(app, body.name);
        throw new RollgateError('conflict', `app ${app} already has a flag ${body.name}${existing?.archived ? ' (archived)' : ''}; pick another name, or change it with \`rollgate flags update\``);
      }
      const f = (await tx.getFlag(app, body.name))!;
      // A new flag is in no environment's state yet: nothing is delivered until it is set somewhere.
      return { result: f, before: null, after: f, moved: [{ env: null, revision: null, flag: f.name }] };
    });
  }

  /** Metadata; a new kind without a lifetime takes that kind's default lifetime. */
  async update(app: string, name: string, patch: UpdateFlagBody, who: Who): Promise<FlagRecord> {
    await this.mustApp(app);
    return change(this.c, who, app, 'flag.update', flagTarget(app, name), async (tx) => {
      const before = await this.liveFlag(tx, app, name, true);
      const p = { ...patch };
      if (p.kind !== undefined && p.kind !== before.kind && p.lifetimeDays === undefined) p.lifetimeDays = DEFAULT_LIFETIME_DAYS[p.kind];
      await tx.updateFlag(app, name, p);
      const after = (await tx.getFlag(app, name))!;
      // Kind and description are delivered with the rules: every environment with a state moved.
      const moved = before.kind !== after.kind || before.description !== after.description ? await this.bumpAll(tx, app, name) : [];
      return { result: after, before, after, moved };
    });
  }

  /** Archived flags leave every environment's delivery state; their rows stay for history. */
  async archive(app: string, name: string, who: Who): Promise<FlagRecord> {
    await this.mustApp(app);
    const guarded = await this.changeRequestEnvs(app, name);
    if (guarded.length) throw directRefused({ app, env: guarded[0]!, flag: name }, 'archive', guarded);
    return change(this.c, who, app, 'flag.archive', flagTarget(app, name), (tx) => this.archiveIn(tx, app, name, who.actor));
  }

  /** Archiving inside a change's transaction (archive, an approved change request). */
  async archiveIn(tx: FlagsTx, app: string, name: string, actor: string): Promise<Outcome<FlagRecord>> {
    const before = await tx.getFlag(app, name, { lock: true });
    if (!before) throw this.noFlag(app, name);
    if (before.archived) return { result: before, before, after: before, moved: [] };
    const moved = await this.bumpAll(tx, app, name);
    await tx.archiveFlag(app, name, actor);
    const after = (await tx.getFlag(app, name))!;
    return { result: after, before, after, moved: moved.length ? moved : [{ env: null, revision: null, flag: name }] };
  }

  /** The environments where the flag has a state and changes need a change request. */
  async changeRequestEnvs(app: string, name: string): Promise<string[]> {
    const out: string[] = [];
    for (const s of await this.d.store.flags.flagStates(app, name)) if (await this.requiresChangeRequest(s.env)) out.push(s.env);
    return out;
  }

  /** Whether flag changes in `env` need a change request (its spec's flagChangeRequests, default: production). */
  async requiresChangeRequest(env: string): Promise<boolean> {
    const rec = await this.d.store.getEnvironment(env);
    // No such environment: nothing can change there, and the change says so (404).
    if (!rec) return false;
    const spec = EnvironmentSpec.safeParse(rec.spec);
    // An environment whose spec cannot be read is treated as production: the safe side.
    return !spec.success || requiresFlagChangeRequests(env, spec.data);
  }

  /** Refuses a direct change of the flag in `env` when the environment requires a change request for it. */
  async mustBeDirect(app: string, env: string, name: string, action: DirectAction, arg?: string): Promise<void> {
    if (await this.requiresChangeRequest(env)) throw directRefused({ app, env, flag: name }, action, [env], arg);
  }

  // ---- rules in one environment

  /** The whole Feature of the flag in `env` (`name` may be left out; type/description/project/stale are the flag's own). */
  setState(app: string, env: string, name: string, body: unknown, who: Who): Promise<FlagStateResult> {
    return this.changeState(app, env, name, 'set', who, this.setMaker(name, body));
  }

  enable(app: string, env: string, name: string, who: Who): Promise<FlagStateResult> {
    return this.changeState(app, env, name, 'enable', who, makeEnabled(true));
  }

  disable(app: string, env: string, name: string, who: Who): Promise<FlagStateResult> {
    return this.changeState(app, env, name, 'disable', who, makeEnabled(false));
  }

  /**
   * The kill switch: off at once, whatever the environment requires (no change request), for
   * those holding flags.kill (the route checks it). On the trail as `flag.kill`; a rollout
   * running there pauses as it does for any user turning the flag off.
   */
  async kill(app: string, env: string, name: string, body: KillBody, who: Who): Promise<FlagStateResult> {
    await this.mustApp(app);
    await this.mustEnv(env);
    return change(this.c, who, app, 'flag.kill', flagTarget(app, name, env), async (tx) => {
      const r = await this.putStateIn(tx, app, env, name, who.actor, makeEnabled(false));
      return { result: { app, env, flag: name, revision: r.revision, state: r.state }, before: r.before, after: { revision: r.revision, state: r.state, killSwitch: true, reason: body.reason ?? null }, moved: [{ env, revision: r.revision, flag: name }], also: r.also };
    });
  }

  /**
   * Sets the flexibleRollout strategy's `rollout` to `percent`. With none, one is added (stickiness
   * default, group id the flag's name); with several, `strategy` (index or id) says which.
   * Whether the flag is on stays as it was.
   */
  rollout(app: string, env: string, name: string, body: RolloutBody, who: Who): Promise<FlagStateResult> {
    return this.changeState(app, env, name, 'rollout', who, makePercent(name, env, body), `--percent ${body.percent}${body.strategy !== undefined ? ` --strategy ${body.strategy}` : ''}`);
  }

  /** How a `set` makes the new state from a Feature body (checked here, before anything is read). */
  setMaker(name: string, body: unknown): MakeState {
    const withName = body !== null && typeof body === 'object' && !Array.isArray(body) && !('name' in body) ? { name, ...body } : body;
    const feature = parseRules(FeatureSchema, withName, 'flag state');
    if (feature.name !== name) throw rulesRefused('flag state', [{ path: 'name', message: `the body names flag ${feature.name}, the path ${name}; they must be the same` }]);
    return (_prior, flag) => {
      const mismatch = feature.type !== undefined && feature.type !== flag.kind ? 'type' : feature.description != null && feature.description !== flag.description ? 'description' : null;
      if (mismatch) throw rulesRefused('flag state', [{ path: mismatch, message: `${mismatch} is the flag's own (${mismatch === 'type' ? flag.kind : 'its description'}), the same in every environment; leave it out or change it with \`rollgate flags update\`` }]);
      return stateOf(feature);
    };
  }

  /** A `{version, features, segments}` file into one environment (see import.ts for what it does). */
  async import(app: string, env: string, body: unknown, who: Who): Promise<ImportResult> {
    await this.mustApp(app);
    await this.mustEnv(env);
    await this.mustBeDirect(app, env, '', 'import');
    return importState(this, this.c, app, env, body, who);
  }

  // ---- helpers

  /** `arg`: the change as `rollgate flags propose` takes it, for the refusal where a change request is required. */
  private async changeState(app: string, env: string, name: string, action: StateAction, who: Who, make: MakeState, arg?: string): Promise<FlagStateResult> {
    await this.mustApp(app);
    await this.mustEnv(env);
    await this.mustBeDirect(app, env, name, action, arg);
    return change(this.c, who, app, `flag.${action}`, flagTarget(app, name, env), async (tx) => {
      const r = await this.putStateIn(tx, app, env, name, who.actor, make);
      return { result: { app, env, flag: name, revision: r.revision, state: r.state }, before: r.before, after: { revision: r.revision, state: r.state }, moved: [{ env, revision: r.revision, flag: name }], also: r.also };
    });
  }

  /**
   * What `make` would make of the flag in `env` now, checked as a change would be, without
   * changing anything (the transaction is rolled back): a proposal is refused when it is made,
   * not when it is approved.
   */
  async preview(app: string, env: string, name: string, make: MakeState): Promise<{ before: FlagState | null; state: FlagState; revision: number }> {
    let seen: { before: FlagState | null; state: FlagState; revision: number } | null = null;
    await this.d.store.flags
      .change(async (tx) => {
        const r = await this.putStateIn(tx, app, env, name, 'preview', make, { byRollout: 'preview' });
        seen = { before: r.before, state: r.state, revision: r.revision - 1 };
        throw PREVIEWED;
      })
      .catch((e: unknown) => {
        if (e !== PREVIEWED) throw e;
      });
    return seen!;
  }

  /**
   * Inside a change's transaction: bumps the (app, env) revision first (which holds it until
   * commit, so changes there queue up), makes the new state from the prior one, checks it and
   * writes it. Anyone but a rollout itself changing the state is told to the state hook (a running
   * rollout pauses when the user takes over).
   */
  async putStateIn(tx: FlagsTx, app: string, env: string, name: string, actor: string, make: MakeState, opts: { byRollout?: string } = {}): Promise<PutState> {
    const revision = await tx.bumpRevision(app, env);
    const flag = await this.liveFlag(tx, app, name, false);
    const prior = await tx.getState(app, env, name);
    // A change request being approved through another service's change (a rollout's start): it checks and decides itself here.
    const pending = pendingApproval.getStore();
    const approval = pending && !pending.taken && pending.app === app && pending.env === env && pending.flag === name ? pending : undefined;
    if (approval) approval.taken = true;
    await approval?.check(tx, prior?.state ?? null);
    const state = await make(prior?.state ?? null, flag);
    const before = await tx.readState(app, env);
    const { after, index } = withFeature(before.state, { name, type: flag.kind, description: flag.description, ...state });
    const problems = newProblems(before.state, after, [index], renamer({ features: new Map([[index, '']]) }));
    if (problems.length) throw rulesRefused('flag state', problems);
    await tx.putState(app, env, name, state, actor);
    await approval?.applied(tx, revision);
    const also = opts.byRollout === undefined ? await this.stateChanged(tx, { app, env, flag: name, prior: prior?.state ?? null, state, actor }) : [];
    return { revision, before: prior?.state ?? null, state, also };
  }

  /** Called in the transaction of every state change not made by a rollout (flags/rollouts.ts: a user taking over pauses it). */
  onStateChange(hook: StateHook): void {
    this.stateHook = hook;
  }

  /** Tells the state hook about a change made in `tx` (putStateIn and imports); the entries it asks for go on the trail after the change's. */
  async stateChanged(tx: FlagsTx, ch: StateChange): Promise<AuditInput[]> {
    return (await this.stateHook?.(tx, ch)) ?? [];
  }

  /** Bumps the revision of every environment where the flag has a state. */
  private async bumpAll(tx: FlagsTx, app: string, name: string): Promise<Moved[]> {
    const out: Moved[] = [];
    for (const env of await tx.envsWithState(app, name)) out.push({ env, revision: await tx.bumpRevision(app, env), flag: name });
    return out;
  }

  /**
   * Locks are taken flag row first, then revisions (update, archive); a change of one environment
   * holds its revision and reads the flag without a lock, so the two orders never meet.
   */
  private async liveFlag(tx: FlagsTx, app: string, name: string, lock: boolean): Promise<FlagRecord> {
    const f = await tx.getFlag(app, name, { lock });
    if (!f) throw this.noFlag(app, name);
    if (f.archived) throw new RollgateError('conflict', `flag ${name} of ${app} is archived (since ${f.archivedAt}); it can no longer change`);
    return f;
  }

  private view(f: FlagRecord, states: FlagStateRecord[]): FlagView {
    return { ...f, staleAfter: staleAfter(f), environments: states.map(summary) };
  }

  async mustApp(app: string): Promise<void> {
    if (!(await this.d.store.getApp(app))) throw new RollgateError('not_found', `no app ${app}; apply the spec that defines it first`);
  }

  async mustEnv(env: string): Promise<void> {
    if (!(await this.d.store.getEnvironment(env))) throw new RollgateError('not_found', `no environment ${env}; apply the spec that defines it first`);
  }

  private async mustFlag(app: string, name: string): Promise<FlagRecord> {
    await this.mustApp(app);
    const f = await this.d.store.flags.getFlag(app, name);
    if (!f) throw this.noFlag(app, name);
    return f;
  }

  private noFlag(app: string, name: string): RollgateError {
    return new RollgateError('not_found', `app ${app} has no flag ${name.slice(0, 255)}; list them with \`rollgate flags list --app ${app}\``);
  }
}
