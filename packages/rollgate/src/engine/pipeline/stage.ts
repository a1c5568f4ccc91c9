/**
 * What the runner needs from each stage kind: one file per kind (stage-run.ts, stage-gate.ts …),
 * each a StageHandler. The runner owns the bookkeeping (status, attempt, times, events); a
 * handler only looks at the world and says where its stage stands. `tick` is called when the
 * stage starts, whenever something it waits for may have changed, and after `waitMs` at most,
 * so a handler must be safe to call again at any time, including after a server restart.
 */
import type { LogStream, PipelineRunRecord, StageRecord } from '../../core/pipeline.js';
import type { StageKind, StageSpec } from '../../core/pipeline-spec.js';

export interface StageContext {
  run: PipelineRunRecord;
  stage: StageRecord;
  spec: StageSpec;
  /** The run's workspace directory (absolute). */
  workspace: string;
  /** HOME of the run's commands (absolute; created by the stage that needs it). */
  home: string;
  now: number;
  /** Writes a line to the stage's log (stored, streamed live). */
  log(text: string): void;
  /** Writes a command's output lines to the stage's log. */
  output(stream: LogStream, lines: string[]): void;
  /** Persists the handler's own progress (e.g. the pid of a command) before it acts on it. */
  save(patch: { result?: unknown; deploymentId?: string | null; waitingSince?: string | null }): Promise<void>;
  /** Calls the runner back as soon as something changed (a command ended). */
  wake(): void;
}

export type StageStep =
  | { done: true; status: 'succeeded' | 'failed'; message: string; result?: unknown }
  | { done: false; status: 'running' | 'waiting'; message: string; waitMs: number; result?: unknown };

export interface StageHandler {
  readonly kind: StageKind;
  /** Called for a stage that starts (attempt already counted up) or that was active at a restart (`resumed`). */
  tick(ctx: StageContext, resumed: boolean): Promise<StageStep>;
  /** Stops what the stage does (kill the command, abort the rollout). Idempotent. */
  stop(ctx: StageContext, why: string): Promise<void>;
}

export const running = (message: string, waitMs: number, result?: unknown): StageStep => ({ done: false, status: 'running', message, waitMs, ...(result === undefined ? {} : { result }) });
export const waiting = (message: string, waitMs: number, result?: unknown): StageStep => ({ done: false, status: 'waiting', message, waitMs, ...(result === undefined ? {} : { result }) });
export const succeeded = (message: string, result?: unknown): StageStep => ({ done: true, status: 'succeeded', message, ...(result === undefined ? {} : { result }) });
export const failed = (message: string, result?: unknown): StageStep => ({ done: true, status: 'failed', message, ...(result === undefined ? {} : { result }) });
