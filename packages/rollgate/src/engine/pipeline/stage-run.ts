/**
 * `run` stages: one shell command in the run's workspace, in its own process group, carrying a
 * marker (run/stage/attempt) in its environment. A server killed while it runs finds the leftover
 * on restart by that marker, stops it, and either runs it again (retrySafe) or reports it
 * interrupted: never twice at once.
 */
import { mkdir, realpath, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { errorMessage } from '../../core/errors.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { PlainLaunch } from '../../isolation/plain.js';
import type { Isolation } from '../../isolation/types.js';
import { startCommand, stopLeftover, type CommandHandle, type CommandOutcome } from './command.js';
import { failed, running, succeeded, waiting, type StageContext, type StageHandler, type StageStep } from './stage.js';

/** Limits how many commands run at once on this machine. */
export class Slots {
  private used = 0;
  private readonly waiters = new Set<() => void>();
  constructor(readonly size: number) {}
  tryAcquire(): boolean {
    if (this.used >= this.size) return false;
    this.used++;
    return true;
  }
  release(): void {
    this.used = Math.max(0, this.used - 1);
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
  /** Calls `w` once, at the next release. */
  onFree(w: () => void): void {
    this.waiters.add(w);
  }
  get inUse(): number {
    return this.used;
  }
}

interface RunResult {
  phase: 'running' | 'ended';
  pid?: number | undefined;
  marker?: string;
  exitCode?: number | null;
  signal?: string | null;
  durationMs?: number;
}

interface Live {
  handle: CommandHandle;
  outcome: CommandOutcome | null;
  startedAt: number;
}

const keyOf = (ctx: StageContext) => `${ctx.run.id}/${ctx.stage.name}/${ctx.stage.attempt}`;

export class RunStage implements StageHandler {
  readonly kind = 'run' as const;
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly slots: Slots,
    /** Stage commands run as their app's pipeline account, away from the platform's files. */
    private readonly isolation: Isolation = new PlainLaunch(),
  ) {}

  async tick(ctx: StageContext, resumed: boolean): Promise<StageStep> {
    const spec = ctx.spec.run!;
    const key = keyOf(ctx);
    const live = this.live.get(key);
    if (live?.outcome) {
      this.live.delete(key);
      return this.finish(ctx, live.outcome);
    }
    // Written once the command has run a while (most finish first and cost no write here); a
    // steady message after that, since a stage that says the same thing is not written again.
    if (live) return running(`running (pid ${live.handle.pid ?? '?'})`, 1000, { phase: 'running', pid: live.handle.pid, marker: key } satisfies RunResult);

    const prev = (ctx.stage.result ?? null) as RunResult | null;
    // Running in the store but not here: a server that is gone may have started it.
    if ((resumed && ctx.stage.status === 'running') || (prev && prev.phase !== 'ended')) {
      const stopped = await stopLeftover(prev?.pid, key);
      const what = `the server stopped while \`${spec.command}\` ran${stopped === 'stopped' ? ' (its processes were stopped now)' : ''}`;
      if (!spec.retrySafe) {
        ctx.log(`interrupted: ${what}`);
        return failed(`interrupted: ${what}; it is not marked retrySafe, so it was not run again. Retry the stage: rollgate pipeline retry ${ctx.run.id}`, { ...prev, phase: 'ended', interrupted: true });
      }
      ctx.log(`interrupted: ${what}; running it again (retrySafe)`);
      if (prev) await ctx.save({ result: null });
    }

    if (!this.slots.tryAcquire()) {
      this.slots.onFree(ctx.wake);
      return waiting(`waiting for a free command slot (${this.slots.inUse} of ${this.slots.size} in use)`, 1000);
    }
    let released = false;
    const release = () => {
      if (!released) (released = true), this.slots.release();
    };
    try {
      await mkdir(ctx.home, { recursive: true, mode: 0o700 });
      // The marker in the command's environment finds it again after a crash, even before its pid is written.
      const cwd = resolve(ctx.workspace, spec.cwd);
      const launch = await this.isolation.launch({ principal: { app: ctx.run.app, scope: 'pipeline' }, command: spec.command, workDir: ctx.workspace, writable: true, cwd, home: ctx.home });
      const handle = startCommand({ command: spec.command, cwd, env: spec.env, home: ctx.home, timeoutMs: parseDuration(spec.timeout), marker: key, launch }, (lines) => {
        // Batches arrive in order; keep each stream's lines together per batch.
        let i = 0;
        while (i < lines.length) {
          const stream = lines[i]!.stream;
          let j = i;
          while (j < lines.length && lines[j]!.stream === stream) j++;
          ctx.output(stream, lines.slice(i, j).map((l) => l.text));
          i = j;
        }
      });
      const entry: Live = { handle, outcome: null, startedAt: ctx.now };
      this.live.set(key, entry);
      void handle.done.then((o) => {
        entry.outcome = o;
        release();
        ctx.wake();
      });
      ctx.log(`$ ${spec.command}`);
      // The runner wrote 'running' before this tick; the marker, not the pid, finds the command after a crash.
      return running(ctx.stage.message, 1000);
    } catch (e) {
      release();
      return failed(`could not start \`${spec.command}\`: ${errorMessage(e)}`);
    }
  }

  async stop(ctx: StageContext, why: string): Promise<void> {
    const live = this.live.get(keyOf(ctx));
    if (live && !live.outcome) {
      live.handle.kill(why);
      await live.handle.done;
    }
    this.live.delete(keyOf(ctx));
  }

  private async finish(ctx: StageContext, o: CommandOutcome): Promise<StageStep> {
    const spec = ctx.spec.run!;
    const result: RunResult = { phase: 'ended', exitCode: o.exitCode, signal: o.signal, durationMs: o.durationMs };
    const took = formatDuration(o.durationMs);
    if (o.error) return failed(`could not run \`${spec.command}\`: ${o.error}`, result);
    if (o.timedOut) return failed(`\`${spec.command}\` ran longer than its timeout (${spec.timeout}) and was stopped`, result);
    if (o.killedBecause) return failed(`stopped: ${o.killedBecause}`, result);
    if (o.exitCode !== 0) return failed(`\`${spec.command}\` exited with ${o.exitCode ?? `signal ${o.signal}`} after ${took}; see rollgate logs --run ${ctx.run.id} --stage ${ctx.stage.name}`, result);
    const missing = await missingArtifacts(ctx.workspace, spec.artifacts);
    if (missing.length) return failed(`\`${spec.command}\` succeeded but did not write ${missing.join(', ')} (declared in artifacts); check the paths and the working directory`, result);
    return succeeded(`exit 0 after ${took}${spec.artifacts.length ? `; wrote ${spec.artifacts.join(', ')}` : ''}`, result);
  }
}

async function missingArtifacts(workspace: string, paths: string[]): Promise<string[]> {
  const root = await realpath(workspace);
  const out: string[] = [];
  for (const p of paths) {
    try {
      const real = await realpath(resolve(root, p));
      if (real !== root && !real.startsWith(root + sep)) out.push(`${p} (outside the workspace)`);
      else await stat(real);
    } catch {
      out.push(p);
    }
  }
  return out;
}
