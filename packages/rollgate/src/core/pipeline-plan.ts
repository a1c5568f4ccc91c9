/**
 * The pipeline planner: from a run's stages as recorded, what happens next. Pure.
 *
 * Policy (as CI systems users know): a stage starts once every stage it needs has succeeded.
 * When a stage fails or the run is cancelled, no new stage starts, stages still acting are
 * stopped (commands killed, rollouts aborted, waits ended), stages never started are skipped,
 * and the run ends once nothing acts any more.
 */
import { stageNeeds, type PipelineSpec } from './pipeline-spec.js';
import { isEndedStage, type RunStatus, type StageRecord } from './pipeline.js';

export interface RunPlan {
  /** Pending stages whose needs all succeeded: start them now. */
  start: string[];
  /** Active stages to stop (failure elsewhere, or cancel). */
  stop: { name: string; why: string }[];
  /** Pending stages that will never run. */
  skip: { name: string; why: string }[];
  /** Set when the run is over. */
  outcome: { status: Extract<RunStatus, 'succeeded' | 'failed' | 'cancelled'>; message: string } | null;
  /** While the run goes on: running when a stage acts, waiting when every active stage waits. */
  status: Extract<RunStatus, 'running' | 'waiting' | 'queued'>;
}

export function planRun(spec: PipelineSpec, stages: readonly StageRecord[], cancelRequested: boolean): RunPlan {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const failed = stages.find((s) => s.status === 'failed');
  const halt = cancelRequested ? 'the run was cancelled' : failed ? `stage "${failed.name}" failed` : null;
  const active = stages.filter((s) => s.status === 'running' || s.status === 'waiting');
  const plan: RunPlan = { start: [], stop: [], skip: [], outcome: null, status: 'queued' };

  if (halt) {
    for (const s of active) plan.stop.push({ name: s.name, why: halt });
    for (const s of stages) if (s.status === 'pending') plan.skip.push({ name: s.name, why: halt });
    if (active.length === 0) {
      plan.outcome = cancelRequested && !failed ? { status: 'cancelled', message: 'cancelled' } : { status: 'failed', message: `stage "${failed!.name}" failed: ${failed!.message}` };
    }
    plan.status = active.length ? 'running' : 'queued';
    return plan;
  }

  spec.stages.forEach((st, i) => {
    const rec = byName.get(st.name);
    if (!rec || rec.status !== 'pending') return;
    const needs = stageNeeds(spec.stages, i).map((n) => byName.get(n));
    const blocked = needs.find((n) => n && (n.status === 'skipped' || n.status === 'cancelled'));
    if (blocked) plan.skip.push({ name: st.name, why: `needs "${blocked.name}", which was ${blocked.status}` });
    else if (needs.every((n) => n?.status === 'succeeded')) plan.start.push(st.name);
  });

  const ended = stages.every((s) => isEndedStage(s.status) || plan.skip.some((k) => k.name === s.name));
  if (ended && plan.start.length === 0) {
    plan.outcome = { status: 'succeeded', message: `${stages.filter((s) => s.status === 'succeeded').length} stages succeeded` };
    return plan;
  }
  const acting = active.some((s) => s.status === 'running') || plan.start.length > 0;
  plan.status = acting ? 'running' : active.length ? 'waiting' : 'running';
  return plan;
}
