/**
 * `approval` stages. Manual: N approvals from different people holding one of the roles; a
 * rejection ends the run; without enough approvals before `expires` the stage fails. Automatic:
 * passes once its conditions hold (every gate passed, an environment healthy for a while).
 */
import { formatDuration, parseDuration } from '../../core/duration.js';
import type { AutoApproval, ManualApproval } from '../../core/pipeline-spec.js';
import type { Runtime } from '../../runtime/types.js';
import type { Store } from '../../store/types.js';
import { serviceHealth } from './service-health.js';
import { failed, succeeded, waiting, type StageContext, type StageHandler, type StageStep } from './stage.js';

const RECHECK_MS = 5000;

export class ApprovalStage implements StageHandler {
  readonly kind = 'approval' as const;
  constructor(private readonly d: { store: Store; runtime: Runtime }) {}

  async tick(ctx: StageContext): Promise<StageStep> {
    const since = ctx.stage.waitingSince ?? new Date(ctx.now).toISOString();
    if (!ctx.stage.waitingSince) await ctx.save({ waitingSince: since });
    const a = ctx.spec.approval!;
    return a.manual ? this.manual(ctx, a.manual, Date.parse(since)) : this.auto(ctx, a.auto!, Date.parse(since));
  }

  async stop(): Promise<void> {}

  private async manual(ctx: StageContext, m: ManualApproval, since: number): Promise<StageStep> {
    const decisions = await this.d.store.listApprovals(ctx.run.id, ctx.stage.name, ctx.stage.attempt);
    const rejected = decisions.find((x) => x.decision === 'reject');
    const result = { approvals: decisions.map((x) => ({ actor: x.actor, decision: x.decision, reason: x.reason, at: x.at })) };
    if (rejected) return failed(`rejected by ${rejected.actor}${rejected.reason ? `: ${rejected.reason}` : ''}`, result);
    const approvers = decisions.filter((x) => x.decision === 'approve').map((x) => x.actor);
    if (approvers.length >= m.approvals) return succeeded(`approved by ${approvers.join(', ')}`, result);
    const expiresAt = m.expires ? since + parseDuration(m.expires) : null;
    if (expiresAt !== null && ctx.now >= expiresAt) return failed(`expired: ${approvers.length} of ${m.approvals} approvals within ${m.expires}`, result);
    const need = m.approvals - approvers.length;
    const msg = `waiting for ${need} approval${need > 1 ? 's' : ''} from ${m.roles.join(' or ')} (rollgate approve ${ctx.run.id})${expiresAt !== null ? `; expires in ${formatDuration(expiresAt - ctx.now)}` : ''}`;
    if (ctx.stage.status !== 'waiting') ctx.log(msg);
    return waiting(msg, expiresAt !== null ? Math.max(50, Math.min(60_000, expiresAt - ctx.now)) : 60_000, result);
  }

  private async auto(ctx: StageContext, a: AutoApproval, since: number): Promise<StageStep> {
    const deadline = a.timeout ? since + parseDuration(a.timeout) : null;
    const timedOut = (why: string) => failed(`conditions did not hold within ${a.timeout}: ${why}`);
    const wait = (why: string, ms = RECHECK_MS, result?: unknown) => {
      if (deadline !== null && ctx.now >= deadline) return timedOut(why);
      return waiting(`automatic approval waits: ${why}`, deadline !== null ? Math.max(50, Math.min(ms, deadline - ctx.now)) : ms, result);
    };
    const met: string[] = [];
    if (a.gatesPassed) {
      const stages = await this.d.store.listStages(ctx.run.id);
      const gates = ctx.run.spec.stages.filter((s) => s.gate).map((s) => stages.find((x) => x.name === s.name)!);
      const open = gates.filter((g) => g.status !== 'succeeded');
      if (open.some((g) => g.status === 'failed')) return failed(`gate ${open.find((g) => g.status === 'failed')!.name} failed`);
      if (open.length) return wait(`gate${open.length > 1 ? 's' : ''} ${open.map((g) => g.name).join(', ')} not passed yet`);
      met.push(gates.length ? `${gates.length} gate(s) passed` : 'no gates');
    }
    if (a.healthy) {
      const { env } = a.healthy;
      const forMs = parseDuration(a.healthy.for);
      const release = ctx.run.releaseId ? await this.d.store.getRelease(ctx.run.releaseId) : null;
      if (!release) return failed(`the run has no release deployed to ${env}`);
      const h = await serviceHealth(this.d.store, this.d.runtime, ctx.run.app, env, release);
      if (h.state === 'gone') return failed(h.detail);
      const prev = (ctx.stage.result ?? {}) as { healthySince?: string | null };
      if (h.state === 'unhealthy') {
        if (prev.healthySince) ctx.log(`${env} unhealthy, clock reset: ${h.detail}`);
        return wait(h.detail, RECHECK_MS, { healthySince: null });
      }
      const healthySince = prev.healthySince ? Date.parse(prev.healthySince) : ctx.now;
      const result = { healthySince: new Date(healthySince).toISOString() };
      const left = healthySince + forMs - ctx.now;
      if (left > 0) return wait(`${env} healthy for ${formatDuration(ctx.now - healthySince)} of ${a.healthy.for} (${h.detail})`, Math.min(RECHECK_MS, left), result);
      met.push(`${env} healthy for ${a.healthy.for}`);
      return succeeded(`approved automatically: ${met.join(', ')}`, result);
    }
    return succeeded(`approved automatically: ${met.join(', ')}`);
  }
}
