/** Wires the pipeline engine: catalog, runner with one handler per stage kind, commands, git polling. */
import { join } from 'node:path';
import type { Isolation } from '../../isolation/types.js';
import { cpus } from 'node:os';
import type { Runtime } from '../../runtime/types.js';
import type { Store } from '../../store/types.js';
import type { AnalysisEvaluator } from '../analysis-types.js';
import type { Deployments } from '../deployments.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { Releases } from '../releases.js';
import type { MaskText } from '../../core/secret-masker.js';
import { PipelineCatalog } from './catalog.js';
import { DeployQueue } from './deploy-queue.js';
import { GitPoller } from './git-poller.js';
import { LogHub } from './log-hub.js';
import { Pipelines, type RolesOf } from './pipelines.js';
import { PipelineRunner } from './runner.js';
import { ApprovalStage } from './stage-approval.js';
import { DeployStage } from './stage-deploy.js';
import { gateStage } from './stage-gate.js';
import { RunStage, Slots } from './stage-run.js';
import { VerifyStage } from './stage-verify.js';
import { windowStage } from './stage-window.js';
import { Workspaces } from './workspace.js';

export interface PipelineEngineDeps {
  store: Store;
  events: EventBus;
  log: Logger;
  dataDir: string;
  releases: Releases;
  deployments: Deployments;
  runtime: Runtime;
  analysis: AnalysisEvaluator | null;
  rolesOf?: RolesOf;
  /** Commands running at once (default: number of CPUs, at least 2). */
  maxParallelCommands?: number;
  /** How stage commands are kept from the platform's files (default: not at all). */
  isolation?: Isolation;
  /** Known secret values out of stage logs (the server's masker, Secrets.mask). */
  mask?: MaskText;
}

export interface PipelineEngine {
  catalog: PipelineCatalog;
  runner: PipelineRunner;
  pipelines: Pipelines;
  logs: LogHub;
  poller: GitPoller;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createPipelineEngine(d: PipelineEngineDeps): PipelineEngine {
  const catalog = new PipelineCatalog(d.store);
  const logs = new LogHub(d.store, d.log, d.mask);
  const workspaces = new Workspaces(join(d.dataDir, 'workspaces'));
  const queue = new DeployQueue();
  const slots = new Slots(d.maxParallelCommands ?? Math.max(2, cpus().length));
  let runner: PipelineRunner;
  const deploy = new DeployStage({ store: d.store, deployments: d.deployments, queue, ensureRelease: (runId) => runner.ensureRelease(runId) });
  runner = new PipelineRunner({
    store: d.store,
    events: d.events,
    log: d.log,
    logs,
    workspaces,
    releases: d.releases,
    queue,
    handlers: {
      run: new RunStage(slots, d.isolation),
      gate: gateStage,
      deploy,
      verify: new VerifyStage({ store: d.store, runtime: d.runtime, deployments: d.deployments, analysis: d.analysis }),
      approval: new ApprovalStage({ store: d.store, runtime: d.runtime }),
      window: windowStage(d.store),
    },
  });
  queue.onHead = (runId) => runner.wake(runId);
  const pipelines = new Pipelines({ store: d.store, events: d.events, catalog, runner, workspaces, ...(d.rolesOf ? { rolesOf: d.rolesOf } : {}), ...(d.mask ? { mask: d.mask } : {}) });
  const poller = new GitPoller({ store: d.store, catalog, pipelines, events: d.events, log: d.log });
  return {
    catalog,
    runner,
    pipelines,
    logs,
    poller,
    async start() {
      await runner.start();
      poller.start();
    },
    async stop() {
      poller.close();
      await runner.stop();
    },
  };
}
