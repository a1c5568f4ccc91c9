/**
 * `deploy` stages: the run's one release to an environment, through the same deployments a
 * user makes by hand (strategy, analysis, automatic rollback). The deployment is found again by
 * who asked for it, so a server killed between creating it and recording it never makes two.
 */
import { isActiveStatus } from '../../core/domain.js';
import { isRollgateError } from '../../core/errors.js';
import type { Deployments } from '../deployments.js';
import type { Store } from '../../store/types.js';
import type { DeployQueue } from './deploy-queue.js';
import { failed, running, succeeded, waiting, type StageContext, type StageHandler, type StageStep } from './stage.js';
import { closedWindow, windowsFor } from './stage-window.js';

export interface DeployStageDeps {
  store: Store;
  deployments: Deployments;
  queue: DeployQueue;
  /** Builds the run's release once (idempotent) and returns it. */
  ensureRelease(runId: string): Promise<{ id: string; version: string }>;
}

export const serviceKey = (app: string, env: string) => `${app}/${env}`;

const queuedMessage = (env: string, app: string, ahead: number, first: string) => `queued for ${env}: ${ahead} deploy(s) of ${app} ahead (first: run ${first})`;

/** Who a pipeline deployment is requested by: names the run and stage, unique per attempt. */
export function pipelineActor(ctx: Pick<StageContext, 'run' | 'stage'>): string {
  return `pipeline:${ctx.run.pipeline}/${ctx.run.id}/${ctx.stage.name}#${ctx.stage.attempt}`;
}

export class DeployStage implements StageHandler {
  readonly kind = 'deploy' as const;
  constructor(private readonly d: DeployStageDeps) {}

  async tick(ctx: StageContext, resumed: boolean): Promise<StageStep> {
    const { env, strategy } = ctx.spec.deploy!;
    const app = ctx.run.app;
    const service = serviceKey(app, env);
    const actor = pipelineActor(ctx);
    let depId = ctx.stage.deploymentId;
    if (!depId) {
      // In line behind another run: nothing to look up until it is this run's turn.
      const ahead = this.d.queue.ahead(service, ctx.run.id, ctx.stage.name);
      if (ahead.length) return waiting(queuedMessage(env, app, ahead.length, ahead[0]!.runId), 30_000);
      if (resumed) {
        // The server may have died between creating the deployment and recording it.
        const mine = (await this.d.store.listDeployments({ app, env, limit: 50 })).find((x) => x.requestedBy === actor);
        if (mine) {
          depId = mine.id;
          await ctx.save({ deploymentId: depId });
        }
      }
    }
    if (!depId) {
      const release = await this.d.ensureRelease(ctx.run.id);
      const closed = closedWindow(await windowsFor(this.d.store, env), ctx.now);
      if (closed) return waiting(`deploy window of ${env} closed: ${closed.message}`, closed.waitMs);
      const since = ctx.stage.waitingSince ?? new Date(ctx.now).toISOString();
      if (!ctx.stage.waitingSince) await ctx.save({ waitingSince: since });
      this.d.queue.enter(service, { runId: ctx.run.id, runSeq: ctx.run.seq, stage: ctx.stage.name, since });
      const ahead = this.d.queue.ahead(service, ctx.run.id, ctx.stage.name);
      if (ahead.length) return waiting(queuedMessage(env, app, ahead.length, ahead[0]!.runId), 30_000);
      try {
        const dep = await this.d.deployments.deploy({ app, env, releaseId: release.id, ...(strategy ? { strategy } : {}) }, actor);
        depId = dep.id;
      } catch (e) {
        // Busy with a deployment made outside this queue (by hand, a rollback): the end of it wakes this run.
        if (isRollgateError(e) && e.code === 'deployment_in_progress') return waiting(`${env} is busy: ${e.message}`, 5000);
        this.d.queue.leave(service, ctx.run.id, ctx.stage.name);
        if (isRollgateError(e) && e.code === 'conflict' && /already serves/.test(e.message)) return succeeded(`${release.version} already serves ${env}`);
        if (isRollgateError(e)) return failed(`could not deploy ${release.version} to ${env}: ${e.message}`);
        throw e;
      }
      this.d.queue.leave(service, ctx.run.id, ctx.stage.name);
      await ctx.save({ deploymentId: depId });
      ctx.log(`deployment ${depId}: ${release.version} to ${env}`);
    }
    const dep = await this.d.store.getDeployment(depId);
    if (!dep) return failed(`deployment ${depId} is gone from the store`);
    if (isActiveStatus(dep.status)) return running(`${dep.version} to ${env}: ${dep.status}, ${dep.message}`, 2000, { deploymentId: dep.id });
    if (dep.status === 'succeeded') {
      ctx.log(`deployment ${dep.id} succeeded: ${dep.message}`);
      return succeeded(`${dep.version} serves ${env}`, { deploymentId: dep.id });
    }
    ctx.log(`deployment ${dep.id} ${dep.status}: ${dep.message}`);
    return failed(`deployment of ${dep.version} to ${env} ${dep.status.replace('_', ' ')}: ${dep.message}`, { deploymentId: dep.id });
  }

  async stop(ctx: StageContext, why: string): Promise<void> {
    this.d.queue.leave(serviceKey(ctx.run.app, ctx.spec.deploy!.env), ctx.run.id, ctx.stage.name);
    if (!ctx.stage.deploymentId) return;
    const dep = await this.d.store.getDeployment(ctx.stage.deploymentId);
    if (dep && isActiveStatus(dep.status)) {
      try {
        await this.d.deployments.abort(dep.id, `${pipelineActor(ctx)} (${why})`);
      } catch (e) {
        // It may have ended in between; nothing to stop then.
        if (!isRollgateError(e) || e.code !== 'conflict') throw e;
      }
    }
  }
}
