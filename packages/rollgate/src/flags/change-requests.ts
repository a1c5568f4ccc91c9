/**
 * Change requests for flag changes, as Unleash's change requests and LaunchDarkly's approvals:
 * in an environment that requires them (spec `flagChangeRequests`, default on for production),
 * a flag's state does not change directly; one person proposes the new state, another holding
 * `approve` there approves it, and the approval applies it in the same transaction as any other
 * flag change (revision, rule checks, audit entry with before and after, `flag.changed`).
 *
 *  - The proposal records the whole new state and the state it was made against. An approval
 *    after the flag moved is refused as stale (propose again): nothing is overwritten unseen.
 *  - The proposer may not approve (separation of duties); may cancel. Others may reject, with why.
 *  - A request expires at its `expiresAt` (default 24h), read from the record: no clock writes it.
 *  - Its status leaves `open` once, by compare and set, inside the approval's transaction, which
 *    also holds the (app, env) revision: of two approvals racing, one applies.
 *  - The kill switch (Flags.kill, permission flags.kill) needs none of this.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import { RollgateError } from '../core/errors.js';
import type { AuditInput } from '../engine/audit.js';
import type { ChangeRequestAction, ChangeRequestFilter, ChangeRequestStatus, FlagChangeRequestRecord } from '../store/flag-change-requests-types.js';
import type { FlagState, FlagsTx } from '../store/flags-types.js';
import { change, type ChangeDeps, type Moved, type Who } from './changes.js';
import { DEFAULT_EXPIRY_MS, type ApproveBody, type ProposeBody, type RejectBody } from './change-request-inputs.js';
import { guardFor } from './guard-target.js';
import { flagTarget, makeEnabled, makePercent, type Flags, type MakeState } from './flags.js';
import { percentOf } from './percent.js';
import { stepState, type FlagRollouts } from './rollouts.js';

/**
 * An approval that starts a rollout (action steps): FlagRollouts.start makes the first step in its
 * own transaction, through Flags.putStateIn, which finds this and lets the request check (still
 * open, not stale) and decide itself in that same transaction, so the rollout starts if and only
 * if the request is approved.
 */
export interface PendingApproval {
  app: string;
  env: string;
  flag: string;
  /** Taken by the first change of that flag (whatever else runs in the same async context later). */
  taken?: boolean;
  /** Before the new state is made: throws when the request may no longer apply. */
  check(tx: FlagsTx, prior: FlagState | null): Promise<void>;
  /** After it is written: moves the request to approved (throws when someone decided first). */
  applied(tx: FlagsTx, revision: number): Promise<void>;
}

export const pendingApproval = new AsyncLocalStorage<PendingApproval>();

/** The direct changes of one flag's state in one environment. */
export type { Refused as DirectAction };

export type StateAction = 'enable' | 'disable' | 'rollout' | 'set';

export const CHANGE_REQUEST_ID_RE = /^cr_[0-9a-f]{16}$/;

/** Events of a request's life (the notification channels take flag.*). */
export const CHANGE_REQUEST_EVENT = 'flag.change-request';

export type ChangeRequestState = ChangeRequestStatus | 'expired';

export interface ChangeRequestView extends Omit<FlagChangeRequestRecord, 'status'> {
  /** `expired`: open, past its expiresAt (it can no longer be approved). */
  status: ChangeRequestState;
}

const PROPOSE_ARG: Record<ChangeRequestAction, string> = { enable: '--enable', disable: '--disable', rollout: '--percent N', set: '--file FEATURE.json', steps: '--steps 1,5,25,50,100 --every 10m', archive: '--archive' };

/** `arg`: the change as `propose` takes it, when known (`--percent 30`); else a placeholder. */
export const proposeCommand = (t: { app: string; env: string; flag: string }, action: ChangeRequestAction, arg?: string) =>
  `rollgate flags propose ${t.flag} --app ${t.app} --env ${t.env} ${arg ?? PROPOSE_ARG[action]} --reason "…"`;

/** A duration as `--every`/`--expires` take it back ("10m", not "10m00s"). */
const durationArg = (ms: number) => (ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** The `propose` options of a rollout as given: steps, every, variant. */
export const stepsArg = (p: { steps: number[]; everyMs: number; variant?: string | null | undefined; guard?: boolean | undefined; control?: string | null | undefined }) => `--steps ${p.steps.join(',')} --every ${durationArg(p.everyMs)}${p.variant ? ` --variant "${p.variant}"` : ''}${p.guard ? ' --guard' : ''}${p.control ? ` --control "${p.control}"` : ''}`;

/** The `propose` options that make a request again. */
function requestArg(r: FlagChangeRequestRecord): string | undefined {
  if (r.action === 'rollout') {
    const pct = percentOf(r.proposedState);
    return pct === null ? undefined : `--percent ${pct}`;
  }
  return r.action === 'steps' && r.rolloutPlan ? stepsArg(r.rolloutPlan) : undefined;
}

type Refused = ChangeRequestAction | 'import' | 'schedule' | 'rollout-start' | 'rollout-resume' | 'rollout-abort';

/** The answer to a direct change where a change request is required: what to run instead. */
export function directRefused(t: { app: string; env: string; flag: string }, action: Refused, envs: string[] = [t.env], arg?: string): RollgateError {
  const where = envs.length > 1 ? `environments ${envs.join(', ')} require` : `environment ${t.env} requires`;
  const kill = `; to turn it off at once, the kill switch needs no approval: \`rollgate flags disable ${t.flag || 'FLAG'} --app ${t.app} --env ${t.env} --now\` (permission flags.kill)`;
  const head = `${where} a change request for flag changes (spec: flagChangeRequests)`;
  if (action === 'import') return new RollgateError('conflict', `${head}, and an import cannot be proposed: propose each flag's rules with \`rollgate flags propose FLAG --app ${t.app} --env ${t.env} --file FEATURE.json --reason "…"\``, { changeRequestRequired: true });
  if (action === 'schedule' || action === 'rollout-resume' || action === 'rollout-abort') {
    const what = { schedule: 'a scheduled change', 'rollout-resume': "a rollout's resumption", 'rollout-abort': 'an abort to a percentage above 0' }[action];
    return new RollgateError('conflict', `${head}, and ${what} cannot be proposed there: propose a rollout with \`${proposeCommand(t, 'steps')}\` or a percentage with \`${proposeCommand(t, 'rollout')}\`${kill}`, { changeRequestRequired: true });
  }
  const command = proposeCommand(t, action === 'rollout-start' ? 'steps' : action, arg);
  return new RollgateError('conflict', `${head}: propose it with \`${command}\`, and someone else holding approve in ${t.env} approves it${action === 'disable' ? kill : ''}`, { changeRequestRequired: true, command });
}

export class FlagChangeRequests {
  private readonly now: () => number;

  /** Starts the rollouts that `steps` requests propose (set by the server once both exist). */
  rollouts: FlagRollouts | null = null;

  constructor(
    private readonly flags: Flags,
    private readonly c: ChangeDeps,
    now?: () => number,
  ) {
    this.now = now ?? Date.now;
  }

  view(r: FlagChangeRequestRecord): ChangeRequestView {
    return { ...r, status: r.status === 'open' && this.expired(r) ? 'expired' : r.status };
  }

  // ---- reads

  /** Newest first; by default the open ones (not expired). */
  async list(f: Omit<ChangeRequestFilter, 'status'> & { status?: ChangeRequestState | 'all' | undefined } = {}): Promise<ChangeRequestView[]> {
    const want = f.status ?? 'open';
    const stored = want === 'all' ? undefined : want === 'expired' ? 'open' : want;
    const rows = await this.c.flags.changeRequests.list({ app: f.app, env: f.env, flag: f.flag, status: stored, limit: f.limit ?? 200 });
    return rows.map((r) => this.view(r)).filter((v) => want === 'all' || v.status === want);
  }

  async get(id: string): Promise<ChangeRequestView> {
    return this.view(await this.mustRequest(id));
  }

  // ---- commands

  async propose(app: string, env: string, flag: string, body: ProposeBody, who: Who): Promise<ChangeRequestView> {
    await this.flags.mustApp(app);
    await this.flags.mustEnv(env);
    const t = { app, env, flag };
    let proposedState: FlagState | null = null;
    const plan = body.action === 'steps' && body.rollout ? { steps: body.rollout.steps, everyMs: body.rollout.every, variant: body.rollout.variant ?? null, guard: body.rollout.guard ?? false, ...(body.rollout.control !== undefined ? { control: body.rollout.control } : {}) } : null;
    let baseState: FlagState | null;
    let baseRevision: number;
    if (body.action === 'archive') {
      const f = await this.c.flags.getFlag(app, flag);
      if (!f) throw new RollgateError('not_found', `app ${app} has no flag ${flag}; list them with \`rollgate flags list --app ${app}\``);
      if (f.archived) throw new RollgateError('conflict', `flag ${flag} of ${app} is archived already (since ${f.archivedAt})`);
      baseState = (await this.c.flags.flagStates(app, flag)).find((s) => s.env === env)?.state ?? null;
      baseRevision = await this.c.flags.revision(app, env);
    } else {
      // Checked now as the change itself would be (rules, archived, unknown flag), so a request that could never apply is never made.
      const p = await this.flags.preview(app, env, flag, this.maker(t, body));
      proposedState = p.state;
      baseState = p.before;
      baseRevision = p.revision;
    }
    const id = `cr_${randomBytes(8).toString('hex')}`;
    const expiresAt = new Date(this.now() + (body.expires ?? DEFAULT_EXPIRY_MS)).toISOString();
    const rec = await change(this.c, who, app, 'flag.change-request.propose', flagTarget(app, flag, env), async (tx) => {
      const r = await tx.changeRequests.insert({ id, app, env, flag, action: body.action, proposedState, rolloutPlan: plan, baseState, baseRevision, reason: body.reason, proposedBy: who.actor, expiresAt });
      return { result: r, before: null, after: r, moved: [] };
    });
    await this.announce(rec, 'proposed', who.actor, body.reason);
    return this.view(rec);
  }

  /** Applies the proposed change, in one transaction with the request's move to approved. */
  async approve(id: string, body: ApproveBody, who: Who): Promise<ChangeRequestView> {
    const r = await this.mustOpen(id);
    if (r.proposedBy === who.actor) {
      throw await this.denied(r, 'flag.change-request.approve', who, `${who.actor} proposed change request ${id} and may not approve it (separation of duties): someone else holding approve in ${r.env} must approve it, or cancel it with \`rollgate flags cancel ${id}\``);
    }
    if (r.action === 'steps') return this.approveSteps(r, body, who);
    const target = r.action === 'archive' ? flagTarget(r.app, r.flag) : flagTarget(r.app, r.flag, r.env);
    const reason = body.reason ?? null;
    const out = await change(this.c, who, r.app, `flag.${r.action}`, target, async (tx) => {
      let applied: { before: unknown; after: unknown; moved: Moved[]; also: AuditInput[]; revision: number | null };
      if (r.action === 'archive') {
        await this.stillOpen(tx, r);
        const o = await this.flags.archiveIn(tx, r.app, r.flag, who.actor);
        applied = { before: o.before, after: o.after, moved: o.moved, also: [], revision: o.moved.find((m) => m.env === r.env)?.revision ?? null };
      } else {
        const put = await this.flags.putStateIn(tx, r.app, r.env, r.flag, who.actor, async (prior) => {
          // Under the (app, env) revision: whoever decided first has committed, and the state is as it will be changed.
          await this.stillOpen(tx, r);
          if (canonicalJson(prior) !== canonicalJson(r.baseState)) throw this.stale(r);
          return r.proposedState!;
        });
        applied = { before: put.before, after: { revision: put.revision, state: put.state }, moved: [{ env: r.env, revision: put.revision, flag: r.flag }], also: put.also, revision: put.revision };
      }
      if (!(await tx.changeRequests.decide(id, { status: 'approved', decidedBy: who.actor, decisionReason: reason, appliedRevision: applied.revision }))) throw this.decidedMeanwhile(await tx.changeRequests.get(id));
      const after = (await tx.changeRequests.get(id))!;
      const entry: AuditInput = { actor: who.actor, action: 'flag.change-request.approve', target: flagTarget(r.app, r.flag, r.env), source: who.source, before: r, after };
      const by = { changeRequest: id, proposedBy: r.proposedBy, approvedBy: who.actor };
      return { result: after, before: applied.before, after: { ...(applied.after as object), ...by }, moved: applied.moved, also: [entry, ...applied.also] };
    });
    await this.announce(out, 'approved', who.actor, reason);
    return this.view(out);
  }

  /** A rollout proposed: started by the approval, the request decided in the transaction of its first step. */
  private async approveSteps(r: FlagChangeRequestRecord, body: ApproveBody, who: Who): Promise<ChangeRequestView> {
    if (!this.rollouts) throw new RollgateError('unavailable', 'this server runs no flag rollouts, so a proposed rollout cannot be approved here');
    const reason = body.reason ?? null;
    let decided = false;
    const pending: PendingApproval = {
      app: r.app,
      env: r.env,
      flag: r.flag,
      check: async (tx, prior) => {
        await this.stillOpen(tx, r);
        if (canonicalJson(prior) !== canonicalJson(r.baseState)) throw this.stale(r);
      },
      applied: async (tx, revision) => {
        if (!(await tx.changeRequests.decide(r.id, { status: 'approved', decidedBy: who.actor, decisionReason: reason, appliedRevision: revision }))) throw this.decidedMeanwhile(await tx.changeRequests.get(r.id));
        const after = await tx.changeRequests.get(r.id);
        await this.c.audit.record({ actor: who.actor, action: 'flag.change-request.approve', target: flagTarget(r.app, r.flag, r.env), source: who.source, before: r, after }, tx.audit);
        decided = true;
      },
    };
    const plan = r.rolloutPlan!;
    await pendingApproval.run(pending, () => this.rollouts!.start(r.app, r.env, r.flag, { steps: plan.steps, every: plan.everyMs, ...(plan.variant !== null ? { variant: plan.variant } : {}), ...(plan.guard ? { guard: true } : {}), ...(plan.control ? { control: plan.control } : {}) }, who));
    if (!decided) throw new RollgateError('internal', `the rollout of change request ${r.id} started without deciding it; this is a server bug: report it`);
    const out = (await this.c.flags.changeRequests.get(r.id))!;
    await this.announce(out, 'approved', who.actor, reason);
    return this.view(out);
  }

  async reject(id: string, body: RejectBody, who: Who): Promise<ChangeRequestView> {
    const r = await this.mustOpen(id);
    if (r.proposedBy === who.actor) throw new RollgateError('conflict', `${who.actor} proposed change request ${id}: withdraw it with \`rollgate flags cancel ${id}\` rather than rejecting it`);
    return this.decide(r, 'rejected', 'flag.change-request.reject', body.reason, who);
  }

  /** Withdrawn by its proposer (an expired one too, to tidy the list). */
  async cancel(id: string, who: Who): Promise<ChangeRequestView> {
    const r = await this.mustRequest(id);
    if (r.status !== 'open') throw this.decidedMeanwhile(r);
    if (r.proposedBy !== who.actor) throw await this.denied(r, 'flag.change-request.cancel', who, `only ${r.proposedBy}, who proposed change request ${id}, may cancel it; to refuse it, reject it with \`rollgate flags reject ${id} --reason "…"\``);
    return this.decide(r, 'cancelled', 'flag.change-request.cancel', null, who);
  }

  // ---- helpers

  private async decide(r: FlagChangeRequestRecord, status: 'rejected' | 'cancelled', action: string, reason: string | null, who: Who): Promise<ChangeRequestView> {
    const out = await change(this.c, who, r.app, action, flagTarget(r.app, r.flag, r.env), async (tx) => {
      if (!(await tx.changeRequests.decide(r.id, { status, decidedBy: who.actor, decisionReason: reason }))) throw this.decidedMeanwhile(await tx.changeRequests.get(r.id));
      const after = (await tx.changeRequests.get(r.id))!;
      return { result: after, before: r, after, moved: [] };
    });
    await this.announce(out, status, who.actor, reason);
    return this.view(out);
  }

  /** A refusal of the service's own (the authorization's are recorded by it): on the trail as denied, then answered 403. */
  private async denied(r: FlagChangeRequestRecord, action: string, who: Who, message: string): Promise<RollgateError> {
    await this.c.audit.record({ actor: who.actor, action, target: flagTarget(r.app, r.flag, r.env), source: who.source, outcome: 'denied', before: r, after: { error: message } });
    return new RollgateError('forbidden', message);
  }

  /** How the proposed state is made from the flag's state, as the direct command makes it. */
  private maker(t: { app: string; env: string; flag: string }, body: ProposeBody): MakeState {
    if (body.action === 'enable' || body.action === 'disable') return makeEnabled(body.action === 'enable');
    if (body.action === 'rollout') return makePercent(t.flag, t.env, { percent: body.percent!, ...(body.strategy !== undefined ? { strategy: body.strategy } : {}) });
    if (body.action === 'steps') {
      const spec = { flag: t.flag, env: t.env, variant: body.rollout!.variant ?? null };
      return (prior) => {
        if (spec.variant !== null && !prior?.enabled) throw new RollgateError('invalid_input', `flag ${t.flag} is off in ${t.env}: a variant's share matters only while the flag is on; propose turning it on first`);
        // A guard that could not tell what to compare is refused now, not when approved.
        if (body.rollout!.guard) guardFor(prior, t.flag, spec.variant, body.rollout!.control);
        return stepState(prior, spec, body.rollout!.steps[0]!);
      };
    }
    return this.flags.setMaker(t.flag, body.state);
  }

  private expired(r: Pick<FlagChangeRequestRecord, 'expiresAt'>): boolean {
    return Date.parse(r.expiresAt) <= this.now();
  }

  private async mustRequest(id: string): Promise<FlagChangeRequestRecord> {
    if (!CHANGE_REQUEST_ID_RE.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 40)}" is not a change request id (cr_ and 16 hex digits); list them with \`rollgate flags requests\``);
    const r = await this.c.flags.changeRequests.get(id);
    if (!r) throw new RollgateError('not_found', `no change request ${id}; list them with \`rollgate flags requests\``);
    return r;
  }

  private async mustOpen(id: string): Promise<FlagChangeRequestRecord> {
    const r = await this.mustRequest(id);
    if (r.status !== 'open') throw this.decidedMeanwhile(r);
    if (this.expired(r)) throw new RollgateError('conflict', `change request ${id} expired at ${r.expiresAt} and can no longer be approved or rejected; propose it again: \`${proposeCommand(r, r.action, requestArg(r))}\``);
    return r;
  }

  /** Inside the approval's transaction: still open and not expired (another approval or the clock may have got there). */
  private async stillOpen(tx: FlagsTx, r: FlagChangeRequestRecord): Promise<void> {
    const cur = await tx.changeRequests.get(r.id);
    if (!cur || cur.status !== 'open') throw this.decidedMeanwhile(cur);
    if (this.expired(cur)) throw new RollgateError('conflict', `change request ${r.id} expired at ${cur.expiresAt}; propose it again: \`${proposeCommand(r, r.action, requestArg(r))}\``);
  }

  private stale(r: FlagChangeRequestRecord): RollgateError {
    return new RollgateError(
      'conflict',
      `change request ${r.id} is stale: flag ${r.flag} changed in ${r.env} since it was proposed (at revision ${r.baseRevision}), so approving it would overwrite that change unseen; nothing was applied. Look at the flag now (\`rollgate flags get ${r.flag} --app ${r.app}\`) and propose again: \`${proposeCommand(r, r.action, requestArg(r))}\``,
      { stale: true },
    );
  }

  private decidedMeanwhile(r: FlagChangeRequestRecord | null): RollgateError {
    if (!r) return new RollgateError('not_found', 'that change request no longer exists');
    const by = r.decidedBy ? ` by ${r.decidedBy}${r.decidedAt ? ` at ${r.decidedAt}` : ''}` : '';
    return new RollgateError('conflict', `change request ${r.id} is ${r.status} already${by}; only an open request can be approved, rejected or cancelled`);
  }

  /** After the commit: an event for the channels (flag.change-request.proposed|approved|rejected|cancelled). */
  private async announce(r: FlagChangeRequestRecord, what: string, actor: string, reason: string | null): Promise<void> {
    const data = { id: r.id, flag: r.flag, action: r.action, status: r.status, actor, proposedBy: r.proposedBy, reason, expiresAt: r.expiresAt };
    await this.c.events?.emit({ type: `${CHANGE_REQUEST_EVENT}.${what}`, app: r.app, env: r.env, data }).catch(() => this.c.log?.error('flag change request not announced', { id: r.id, what }));
  }
}
