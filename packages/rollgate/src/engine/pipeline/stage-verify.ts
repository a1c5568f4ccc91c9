/**
 * `verify` stages: watch a release after its deploy, for a duration, with the same analysis as
 * rollouts (built-in router metrics of the new version, Prometheus, HTTP checks, commands). A
 * failure rolls the environment back to what served before (onFailure: rollback) and fails the run.
 */
import { formatDuration, parseDuration } from '../../core/duration.js';
import { isRollgateError } from '../../core/errors.js';
import { AnalysisSpec } from '../../core/spec.js';
import type { Runtime } from '../../runtime/types.js';
import type { Store } from '../../store/types.js';
import type { AnalysisEvaluator } from '../analysis-types.js';
import type { Deployments } from '../deployments.js';
import { pipelineActor } from './stage-deploy.js';
import { serviceHealth } from './service-health.js';
import { failed, running, succeeded, type StageContext, type StageHandler, type StageStep } from './stage.js';

const TICK_MS = 250;

export interface VerifyDeps {
  store: Store;
  runtime: Runtime;
  deployments: Deployments;
  analysis: AnalysisEvaluator | null;
}

const analysisKey = (ctx: StageContext) => `verify:${ctx.run.id}:${ctx.stage.name}:${ctx.stage.attempt}`;

export class VerifyStage implements StageHandler {
  readonly kind = 'verify' as const;
  constructor(private readonly d: VerifyDeps) {}

  async tick(ctx: StageContext): Promise<StageStep> {
    const v = ctx.spec.verify!;
    const env = v.env;
    const release = ctx.run.releaseId ? await this.d.store.getRelease(ctx.run.releaseId) : null;
    if (!release) return failed(`the run has no release deployed to ${env}`);
    const health = await serviceHealth(this.d.store, this.d.runtime, ctx.run.app, env, release);
    if (health.state === 'gone') return this.end(ctx, failed(`${health.detail}; nothing left to verify`));

    const startedAt = Date.parse(ctx.stage.startedAt ?? new Date(ctx.now).toISOString());
    const durationMs = parseDuration(v.duration);
    const elapsed = ctx.now - startedAt;
    let verdict = 'no analysis';
    let passed = true;
    if (this.d.analysis) {
      const dep = await this.deploymentOf(ctx, env, release.id);
      if (dep) {
        const observed = await this.d.runtime.observe({ app: ctx.run.app, env }).catch(() => null);
        const phase = { name: 'verify', spec: v.analysis ?? AnalysisSpec.parse({}), compareToStable: false };
        const r = await this.d.analysis.evaluate({ ...dep, id: analysisKey(ctx) }, phase, observed, ctx.now);
        if (r) {
          verdict = r.snapshot.reason;
          passed = r.passed;
          if (r.snapshot.verdict === 'fail') return this.end(ctx, await this.onFailure(ctx, `analysis failed: ${r.snapshot.reason}`, r.snapshot));
        }
      }
    }
    if (elapsed < durationMs) return running(`watching ${env} for ${formatDuration(durationMs - elapsed)} more: ${health.state === 'healthy' ? verdict : health.detail}`, TICK_MS);
    if (health.state !== 'healthy') return this.end(ctx, await this.onFailure(ctx, `not healthy at the end of ${v.duration}: ${health.detail}`));
    if (!passed) return this.end(ctx, failed(`analysis inconclusive after ${v.duration}: ${verdict}; send traffic to ${env} while it is verified, or set analysis metrics that need none`));
    return this.end(ctx, succeeded(`${release.version} healthy in ${env} for ${v.duration}: ${verdict}`));
  }

  async stop(ctx: StageContext): Promise<void> {
    this.d.analysis?.forget(analysisKey(ctx));
  }

  private end(ctx: StageContext, step: StageStep): StageStep {
    this.d.analysis?.forget(analysisKey(ctx));
    return step;
  }

  private async deploymentOf(ctx: StageContext, env: string, releaseId: string) {
    const stages = await this.d.store.listStages(ctx.run.id);
    const deployStage = ctx.run.spec.stages.find((s) => s.deploy?.env === env && stages.find((x) => x.name === s.name)?.deploymentId);
    const id = deployStage ? stages.find((x) => x.name === deployStage.name)!.deploymentId : null;
    const dep = id ? await this.d.store.getDeployment(id) : null;
    if (dep) return dep;
    // Deployed before this run (the release already served): judge it as the current deployment.
    const [last] = await this.d.store.listDeployments({ app: ctx.run.app, env, limit: 1 });
    return last?.releaseId === releaseId ? last : null;
  }

  private async onFailure(ctx: StageContext, why: string, analysis?: unknown): Promise<StageStep> {
    const v = ctx.spec.verify!;
    ctx.log(`verify failed: ${why}`);
    if (v.onFailure !== 'rollback') return failed(why, { analysis });
    try {
      const dep = await this.d.deployments.rollback({ app: ctx.run.app, env: v.env }, pipelineActor(ctx));
      ctx.log(`rolling ${v.env} back to ${dep.version} (deployment ${dep.id})`);
      return failed(`${why}; rolling ${v.env} back to ${dep.version}`, { analysis, rollbackDeploymentId: dep.id });
    } catch (e) {
      const detail = isRollgateError(e) ? e.message : String(e);
      return failed(`${why}; could not roll back: ${detail}`, { analysis });
    }
  }
}
