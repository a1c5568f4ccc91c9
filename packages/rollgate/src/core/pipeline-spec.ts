/**
 * Release pipelines as written in rollgate.yaml (`pipelines:`). A pipeline is a graph of stages:
 * each stage runs after the stages it `needs` (by default, the one before it), so independent
 * stages (lint and test) can run side by side. The graph is checked when the spec is loaded:
 * unknown or cyclic references, and stages that act on an environment nothing deployed to, are
 * rejected there rather than found halfway through a run.
 */
import { z } from 'zod';
import { GateSpec } from '../gates/spec.js';
import { artifactPathProblem } from '../gates/paths.js';
import { Duration, AnalysisSpec } from './spec.js';
import { DeployWindow, Freeze, WindowsSpec } from './windows-spec.js';

export const STAGE_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const StageName = z.string().regex(STAGE_NAME_RE, { message: 'stage names are lower-case letters, digits, "-" and "_" (at most 63)' });
const EnvRef = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { message: 'an environment name' });
const EnvVars = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'environment variable names are letters, digits and _' }), z.union([z.string(), z.number(), z.boolean()]).transform(String));

const WorkspacePath = z.string().superRefine((p, ctx) => {
  const problem = artifactPathProblem(p);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const RunStage = z
  .object({
    command: z.string().min(1).describe('Shell command, run with /bin/sh -c in the working directory'),
    cwd: WorkspacePath.default('.').describe("Working directory, relative to the run's workspace"),
    env: EnvVars.default({}),
    timeout: Duration.default('30m').describe('The command is stopped (SIGTERM, then SIGKILL) and the stage fails after this long'),
    artifacts: z.array(WorkspacePath).default([]).describe('Files the command writes (reports, coverage, scans); missing ones fail the stage'),
    retrySafe: z.boolean().default(false).describe('Run it again by itself when the server was stopped while it ran (otherwise the stage is reported interrupted and fails)'),
  })
  .strict();
export type RunStage = z.infer<typeof RunStage>;

export const DeployStage = z
  .object({
    env: EnvRef,
    strategy: z.enum(['rolling', 'blue-green', 'canary', 'recreate']).optional().describe("Default: the app's strategy for that environment"),
  })
  .strict();
export type DeployStage = z.infer<typeof DeployStage>;

export const VerifyStage = z
  .object({
    env: EnvRef,
    duration: Duration.describe('How long the deployed release is watched'),
    analysis: AnalysisSpec.optional().describe('Default: error rate and latency limits of the default analysis'),
    onFailure: z.enum(['rollback', 'fail']).default('rollback').describe('rollback: return the environment to the release it served before, then fail the run'),
  })
  .strict();
export type VerifyStage = z.infer<typeof VerifyStage>;

const ROLE_RE = /^[a-z][a-z0-9-]{0,62}$/;
export const ManualApproval = z
  .object({
    approvals: z.number().int().min(1).max(10).default(1).describe('Approvals needed, each from a different person'),
    roles: z.array(z.string().regex(ROLE_RE)).min(1).default(['release-manager']).describe('Who may approve (admin always may)'),
    expires: Duration.optional().describe('Without enough approvals by then, the stage fails'),
    reasonRequired: z.boolean().default(false),
  })
  .strict();
export type ManualApproval = z.infer<typeof ManualApproval>;

export const AutoApproval = z
  .object({
    healthy: z
      .object({ env: EnvRef, for: Duration.describe('Healthy this long after the deploy ended') })
      .strict()
      .optional()
      .describe('The release serves the environment, every instance healthy, no open incident, for this long'),
    gatesPassed: z.boolean().default(true).describe('Every gate stage of the run so far passed'),
    timeout: Duration.optional().describe('Fail when the conditions do not hold by then (default: wait)'),
  })
  .strict();
export type AutoApproval = z.infer<typeof AutoApproval>;

export const ApprovalStage = z
  .object({ manual: ManualApproval.optional(), auto: AutoApproval.optional() })
  .strict()
  .superRefine((a, ctx) => {
    if ((a.manual === undefined) === (a.auto === undefined)) ctx.addIssue({ code: 'custom', message: 'an approval is either manual or auto: give exactly one' });
  });
export type ApprovalStage = z.infer<typeof ApprovalStage>;

export const WindowStage = z
  .object({
    env: EnvRef.optional().describe("Wait for this environment's deployWindows"),
    timezone: WindowsSpec.shape.timezone,
    allow: z.array(DeployWindow).default([]),
    freeze: z.array(Freeze).default([]),
  })
  .strict()
  .refine((w) => w.env !== undefined || w.allow.length > 0 || w.freeze.length > 0, { message: 'a window stage needs env, allow or freeze' });
export type WindowStage = z.infer<typeof WindowStage>;

export const STAGE_KINDS = ['run', 'gate', 'deploy', 'verify', 'approval', 'window'] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

export const StageSpec = z
  .object({
    name: StageName,
    needs: z.array(StageName).optional().describe('Stages that must succeed first (default: the stage before; [] for none)'),
    run: RunStage.optional(),
    gate: GateSpec.optional(),
    deploy: DeployStage.optional(),
    verify: VerifyStage.optional(),
    approval: ApprovalStage.optional(),
    window: WindowStage.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const kinds = STAGE_KINDS.filter((k) => s[k] !== undefined);
    if (kinds.length !== 1) ctx.addIssue({ code: 'custom', message: `stage "${s.name}" needs exactly one of ${STAGE_KINDS.join(', ')} (has ${kinds.join(', ') || 'none'})` });
  });
export type StageSpec = z.infer<typeof StageSpec>;

export function stageKind(s: StageSpec): StageKind {
  return STAGE_KINDS.find((k) => s[k] !== undefined)!;
}

export const GitSource = z
  .object({
    url: z.string().min(1).describe('Repository: a local path or a git URL'),
    branch: z.string().regex(/^[A-Za-z0-9._/-]{1,200}$/).default('main'),
    poll: Duration.optional().describe('Look for new commits this often'),
    webhookSecretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional().describe('Variable holding the push webhook secret (X-Hub-Signature-256)'),
  })
  .strict();
export type GitSource = z.infer<typeof GitSource>;

export const PipelineSpec = z
  .object({
    app: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/),
    source: z.object({ git: GitSource }).strict().optional(),
    release: z
      .object({ path: WorkspacePath.default('.').describe('Workspace directory that becomes the release (after the build)') })
      .strict()
      .default({ path: '.' }),
    stages: z.array(StageSpec).min(1),
  })
  .strict()
  .superRefine((p, ctx) => {
    for (const problem of pipelineGraphProblems(p.stages)) ctx.addIssue({ code: 'custom', path: ['stages', ...problem.path], message: problem.message });
  });
export type PipelineSpec = z.infer<typeof PipelineSpec>;

/** The stages a stage waits for, with the default (the one before it) filled in. */
export function stageNeeds(stages: readonly StageSpec[], i: number): string[] {
  const s = stages[i]!;
  if (s.needs) return s.needs;
  return i === 0 ? [] : [stages[i - 1]!.name];
}

/** Every stage that must finish before stage i (transitively). */
export function ancestors(stages: readonly StageSpec[], i: number): Set<string> {
  const index = new Map(stages.map((s, k) => [s.name, k]));
  const out = new Set<string>();
  const todo = [...stageNeeds(stages, i)];
  while (todo.length) {
    const n = todo.pop()!;
    if (out.has(n)) continue;
    out.add(n);
    const k = index.get(n);
    if (k !== undefined) todo.push(...stageNeeds(stages, k));
  }
  return out;
}

interface GraphProblem {
  path: (string | number)[];
  message: string;
}

function pipelineGraphProblems(stages: readonly StageSpec[]): GraphProblem[] {
  const out: GraphProblem[] = [];
  const index = new Map<string, number>();
  stages.forEach((s, i) => {
    if (index.has(s.name)) out.push({ path: [i, 'name'], message: `stage name "${s.name}" is used twice (stages ${index.get(s.name)} and ${i})` });
    else index.set(s.name, i);
  });
  stages.forEach((s, i) => {
    for (const n of s.needs ?? []) {
      if (!index.has(n)) out.push({ path: [i, 'needs'], message: `stage "${s.name}" needs unknown stage "${n}"; stages: ${[...index.keys()].join(', ')}` });
      if (n === s.name) out.push({ path: [i, 'needs'], message: `stage "${s.name}" needs itself` });
    }
  });
  if (out.length) return out;
  // Cycles: depth-first search with colours; report the first cycle as a path.
  const colour = new Map<string, 'grey' | 'black'>();
  const trail: string[] = [];
  const visit = (i: number): string[] | null => {
    const name = stages[i]!.name;
    colour.set(name, 'grey');
    trail.push(name);
    for (const n of stageNeeds(stages, i)) {
      const c = colour.get(n);
      if (c === 'grey') return [...trail.slice(trail.indexOf(n)), n];
      if (c === undefined) {
        const cycle = visit(index.get(n)!);
        if (cycle) return cycle;
      }
    }
    trail.pop();
    colour.set(name, 'black');
    return null;
  };
  for (let i = 0; i < stages.length; i++) {
    if (colour.has(stages[i]!.name)) continue;
    const cycle = visit(i);
    if (cycle) return [{ path: [index.get(cycle[0]!)!, 'needs'], message: `stages wait for each other in a cycle: ${cycle.join(' -> ')}; remove one of these needs` }];
  }
  // Stages that act on an environment need a deploy to it among the stages they wait for.
  stages.forEach((s, i) => {
    const env = s.verify?.env ?? s.approval?.auto?.healthy?.env;
    if (env === undefined) return;
    const before = ancestors(stages, i);
    const deployed = stages.some((d) => before.has(d.name) && d.deploy?.env === env);
    if (!deployed) out.push({ path: [i], message: `stage "${s.name}" watches environment "${env}", but no stage it waits for deploys there; add a deploy stage to "${env}" to its needs` });
  });
  return out;
}

/** Environments deployed by stages that wait (directly or not) for stage i: what an approval there guards. */
export function guardedEnvironments(stages: readonly StageSpec[], i: number): string[] {
  const name = stages[i]!.name;
  const out = new Set<string>();
  stages.forEach((s, k) => {
    if (s.deploy && ancestors(stages, k).has(name)) out.add(s.deploy.env);
  });
  return [...out];
}
