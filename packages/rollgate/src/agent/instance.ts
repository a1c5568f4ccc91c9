/**
 * One app instance: a child process (in its own process group) on its own loopback port,
 * health-checked over HTTP, restarted after crashes, stopped by draining. Policy (when to give
 * up, how many replicas) belongs to the supervisor through `InstanceHost`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import type { InstanceState, ServiceKey, VersionDesired } from '../core/dataplane.js';
import { errorMessage } from '../core/errors.js';
import { PlainLaunch } from '../isolation/plain.js';
import { isIsolated, type Isolation, type Launch } from '../isolation/types.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { probe } from './health.js';
import type { InstanceLog } from './logs.js';
import { listenerOwnedByGroup } from './ports.js';

const UNISOLATED = new PlainLaunch();

export type StartFailure = 'crash' | 'timeout' | 'port' | 'fatal';

export interface InstanceHost {
  readonly key: ServiceKey;
  /** Something observable changed (state, pid, port, error). */
  changed(inst: Instance, stateChanged: boolean): void;
  /**
   * A start attempt failed before the instance became ready (`message` without the id).
   * Returns true when the supervisor gives up on it (the instance becomes `failed`).
   */
  startFailed(inst: Instance, kind: StartFailure, message: string): boolean;
  becameReady(inst: Instance): void;
  allocatePort(): Promise<number>;
  /** A process group started / ended (for orphan cleanup after an agent crash). */
  processStarted(inst: Instance, pgid: number): void;
  processEnded(inst: Instance, pgid: number): void;
  releasePort(port: number): void;
  inFlight(id: string): number;
  /** Resolves once the router knows the current state (so it sends no new requests to a draining instance). */
  syncRouter(): Promise<void>;
  readonly backoff: BackoffOptions;
  readonly inheritEnv: readonly string[];
  /** How instances are kept away from the platform (what the agent detected at start). */
  readonly isolation: Isolation;
}

interface Proc {
  child: ChildProcess;
  pid: number;
  port: number;
  alive: boolean;
  /** We asked it to stop: its exit is not a crash. */
  expected: boolean;
  /** When we sent SIGKILL to its group (0: not yet). */
  killedAt: number;
  exited: Promise<void>;
}

const ADDR_IN_USE = /EADDRINUSE|address already in use/i;
const ERRORISH = /error|exception|fatal|cannot|can't|failed|denied|not found|EADDRINUSE|refused|panic/i;

/** The line a thrown error starts with (`Error: DATABASE_URL is not set`), not a stack frame under it. */
const ERROR_LINE = /Error|error:|Exception|fatal/;
/** A line that starts as an error message does, before the source line a runtime may echo above it (`throw new Error(…)`). */
const ERROR_START = /^\s*(?:Uncaught\s+)?(?:[\w.$]*(?:Error|Exception)\b|(?:error|fatal|panic)\b)/i;
const STACK_FRAME = /^\s*at\s|^\s*\^+\s*$/;

/**
 * A one-line quote of the output that most likely explains a failure: the first line of the
 * last ones that reads like an error (a stack trace's own message comes before its frames),
 * plus the last line; else the last error-ish line; else the last three lines.
 */
export function quoteOutput(lines: string[]): string {
  if (lines.length === 0) return '(no output)';
  const last = lines[lines.length - 1]!;
  const first = lines.find((l) => ERROR_START.test(l)) ?? lines.find((l) => ERROR_LINE.test(l) && !STACK_FRAME.test(l));
  const hit = first ?? [...lines].reverse().find((l) => ERRORISH.test(l));
  const text = first !== undefined && first !== last ? `${first} | ${last}` : (hit ?? lines.slice(-3).join(' | '));
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
}

/** Resolves true if `p` settles within `ms`, false otherwise; never leaves a timer behind. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Instance {
  state: InstanceState = 'starting';
  port = 0;
  pid: number | null = null;
  restarts = 0;
  startedAt = new Date().toISOString();
  readyAt: string | null = null;
  lastError: string | null = null;
  /** Start attempts that failed since the instance was last ready. */
  startFailures = 0;
  /** Its version's spec changed: this instance is kept only until replacements are ready. */
  superseded = false;
  /** Leaving for good (draining, stopping or stopped). */
  retiring = false;

  private proc: Proc | null = null;
  private okStreak = 0;
  private failStreak = 0;
  private lastProbe = 'no health check answered yet';
  private unhealthySince = 0;
  private readyAtMs = 0;
  private probeTimer: NodeJS.Timeout | null = null;
  private startTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private readonly backoff: Backoff;

  constructor(
    private readonly host: InstanceHost,
    readonly id: string,
    public spec: VersionDesired,
    readonly log: InstanceLog,
  ) {
    this.backoff = new Backoff(host.backoff);
  }

  get version(): string {
    return this.spec.version;
  }

  start(): void {
    void this.launch();
  }

  /** Health and drain settings may change in place; release/command/env changes replace the instance. */
  updateSpec(spec: VersionDesired): void {
    this.spec = spec;
  }

  /** Drain and stop for good. Idempotent; `deadline` (epoch ms) bounds the whole stop. */
  stop(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    if (!this.stopping) {
      this.retiring = true;
      this.clearTimers();
      this.stopping = this.drainAndStop(deadline).catch((e: unknown) => {
        this.log.note(`stop failed: ${String(e)}`);
      });
    }
    return this.stopping;
  }

  private setState(state: InstanceState, error?: string | null, force = false): void {
    const changed = force || state !== this.state;
    this.state = state;
    if (error !== undefined) this.lastError = error;
    this.host.changed(this, changed);
  }

  private clearTimers(): void {
    for (const t of [this.probeTimer, this.startTimer, this.restartTimer]) if (t) clearTimeout(t);
    this.probeTimer = this.startTimer = this.restartTimer = null;
  }

  private async launch(): Promise<void> {
    const previous = this.proc;
    if (previous?.alive) await previous.exited;
    if (this.retiring) return;
    let port: number;
    try {
      port = await this.host.allocatePort();
    } catch (e) {
      this.attemptFailed('port', `could not get a free loopback port: ${String(e)}`, null);
      return;
    }
    if (this.retiring) {
      this.host.releasePort(port);
      return;
    }
    try {
      if (!statSync(this.spec.dir).isDirectory()) throw new Error('not a directory');
    } catch {
      this.host.releasePort(port);
      this.attemptFailed('fatal', `cannot start: release directory ${this.spec.dir} does not exist or is not a directory`, null);
      return;
    }
    const env: Record<string, string> = {};
    for (const name of this.host.inheritEnv) {
      const v = process.env[name];
      if (v !== undefined) env[name] = v;
    }
    Object.assign(env, this.spec.env, {
      [this.spec.portEnv]: String(port),
      ROLLGATE_INSTANCE: this.id,
      ROLLGATE_VERSION: this.spec.version,
      ROLLGATE_RELEASE: this.spec.releaseId,
      ROLLGATE_APP: this.host.key.app,
      ROLLGATE_ENV: this.host.key.env,
    });
    this.log.clearRecent();
    this.okStreak = this.failStreak = 0;
    this.lastProbe = 'no health check answered yet';
    const launch = await this.isolatedLaunch(port);
    if (!launch) return;
    Object.assign(env, launch.env);
    // Own process group (detached) so SIGTERM/SIGKILL reach the whole tree the shell starts.
    const child = spawn(launch.file, launch.args, { cwd: this.spec.dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let resolveExit!: () => void;
    const proc: Proc = { child, pid: child.pid ?? -1, port, alive: true, expected: false, killedAt: 0, exited: new Promise((r) => (resolveExit = r)) };
    this.proc = proc;
    this.port = port;
    this.pid = child.pid ?? null;
    this.startedAt = new Date().toISOString();
    this.readyAt = null;
    const onLine = (text: string) => {
      if (this.proc === proc && proc.alive && !proc.expected && this.state === 'starting' && ADDR_IN_USE.test(text)) {
        this.attemptFailed('port', `could not listen on port ${port}: address already in use (another program took it, or the app does not listen on $${this.spec.portEnv})`, proc);
      }
    };
    if (child.stdout) this.log.capture(child.stdout, 'stdout', onLine);
    if (child.stderr) this.log.capture(child.stderr, 'stderr', onLine);
    let finalized = false;
    // The instance is gone when its whole process group is: a shell that forked the app may
    // die on SIGTERM while the app is still draining its requests.
    const finalize = (what: string, crash: { code: number | null; signal: NodeJS.Signals | null; spawnError?: Error } | null) => {
      if (finalized) return;
      finalized = true;
      proc.alive = false;
      if (proc.pid > 0) {
        killGroup(proc.pid, 'SIGKILL'); // anything left behind
        this.host.processEnded(this, proc.pid);
      }
      this.host.releasePort(port);
      this.log.note(what);
      resolveExit();
      if (this.proc === proc) this.pid = null;
      if (crash && !proc.expected && this.proc === proc && !this.retiring) this.onCrash(crash.code, crash.signal, proc, crash.spawnError);
    };
    child.once('exit', (code, signal) => {
      const what = `process ${proc.pid} ${describeExit(code, signal)}`;
      if (!proc.expected) {
        finalize(what, { code, signal });
        return;
      }
      void waitGroupGone(proc).then(() => finalize(what, null));
    });
    child.once('error', (e) => {
      if (child.pid === undefined) finalize(`could not start: ${e.message}`, { code: null, signal: null, spawnError: e });
      else this.log.note(`process error: ${e.message}`);
    });
    if (proc.pid > 0) this.host.processStarted(this, proc.pid);
    this.log.note(`started pid ${child.pid ?? '?'} on port ${port}: ${this.spec.command}`);
    this.setState('starting', this.lastError, true); // a new process is news even if the state name is not
    this.startTimer = setTimeout(() => this.onStartTimeout(proc), this.spec.health.startTimeoutMs);
    this.scheduleProbe(proc, this.startupInterval());
  }

  /** Probe a starting instance often so it joins rotation promptly; ready ones at the spec's interval. */
  private startupInterval(): number {
    return Math.min(this.spec.health.intervalMs, 200);
  }

  private scheduleProbe(proc: Proc, delay: number): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      void this.runProbe(proc);
    }, delay);
  }

  private current(proc: Proc): boolean {
    return this.proc === proc && proc.alive && !proc.expected && !this.retiring;
  }

  private async runProbe(proc: Proc): Promise<void> {
    if (!this.current(proc)) return;
    const h = this.spec.health;
    const r = await probe(proc.port, h.path, h.timeoutMs);
    if (!this.current(proc)) return;
    if (r.ok) {
      this.okStreak++;
      this.failStreak = 0;
    } else {
      this.failStreak++;
      this.okStreak = 0;
      this.lastProbe = `GET ${h.path} ${r.detail}`;
    }
    if (this.state === 'starting' && this.okStreak >= h.healthyThreshold) {
      const owned = proc.pid > 0 ? await listenerOwnedByGroup(proc.port, proc.pid) : null;
      if (!this.current(proc)) return;
      if (owned === false) {
        this.attemptFailed('port', `port ${proc.port} is answered by another program, not by this instance`, proc);
        return;
      }
      if (this.startTimer) clearTimeout(this.startTimer);
      this.startTimer = null;
      this.readyAt = new Date().toISOString();
      this.readyAtMs = Date.now();
      this.startFailures = 0;
      this.log.note(`ready on port ${proc.port}`);
      this.host.becameReady(this);
      this.setState('ready', null);
    } else if (this.state === 'ready' && this.failStreak >= h.unhealthyThreshold) {
      this.unhealthySince = Date.now();
      this.log.note(`unhealthy: ${this.lastProbe}`);
      this.setState('unhealthy', `failing health checks: ${this.lastProbe}`);
    } else if (this.state === 'unhealthy') {
      if (this.okStreak >= h.healthyThreshold) {
        this.log.note('healthy again');
        this.setState('ready', null);
      } else if (Date.now() - this.unhealthySince > h.startTimeoutMs) {
        // Out of rotation too long: restart it (as a liveness check would).
        this.log.note(`restarting: unhealthy for more than ${h.startTimeoutMs}ms`);
        this.restartAfterFailure(proc, `restarted after failing health checks for ${h.startTimeoutMs}ms: ${this.lastProbe}`);
        return;
      }
    }
    this.scheduleProbe(proc, this.state === 'starting' ? this.startupInterval() : h.intervalMs);
  }

  private onStartTimeout(proc: Proc): void {
    this.startTimer = null;
    if (!this.current(proc) || this.state !== 'starting') return;
    this.attemptFailed('timeout', `did not become healthy within ${this.spec.health.startTimeoutMs}ms (${this.lastProbe})`, proc);
  }

  /** How to spawn under the version's isolation; null (port released, attempt failed) when it must not run. */
  private async isolatedLaunch(port: number): Promise<Launch | null> {
    const mode = this.spec.isolation ?? 'preferred';
    const isolation = mode === 'none' ? UNISOLATED : this.host.isolation;
    const refuse = (why: string) => {
      this.host.releasePort(port);
      this.attemptFailed('fatal', why, null);
      return null;
    };
    if (mode === 'required' && !isIsolated(isolation.kind)) {
      return refuse(`refused to start: ${this.host.key.env} is a production environment and this agent cannot isolate instances (${isolation.summary}); install bubblewrap (apt-get install bubblewrap) or run the platform as root, or set isolation: none for ${this.host.key.env} in rollgate.yaml to accept it`);
    }
    try {
      const launch = await isolation.launch({ principal: { app: this.host.key.app, scope: this.host.key.env }, command: execForm(this.spec.command), workDir: this.spec.dir, writable: false });
      if (this.retiring) {
        this.host.releasePort(port);
        return null;
      }
      return launch;
    } catch (e) {
      return refuse(`cannot start: preparing the ${isolation.kind} isolation failed: ${errorMessage(e)}`);
    }
  }

  private onCrash(code: number | null, signal: NodeJS.Signals | null, proc: Proc, spawnError?: Error): void {
    if (this.state === 'starting') {
      const what = spawnError ? `could not be started (${spawnError.message})` : `${describeExit(code, signal)} before becoming healthy`;
      this.attemptFailed('crash', what, proc);
      return;
    }
    // It had been ready: restart with backoff, forgiving past failures if it ran well for a while.
    this.backoff.noteReadyFor(Date.now() - this.readyAtMs);
    this.restartAfterFailure(proc, `${describeExit(code, signal)}: ${quoteOutput(this.log.lastLines())}`);
  }

  /** A start attempt failed; the host decides whether to retry. */
  private attemptFailed(kind: StartFailure, message: string, proc: Proc | null): void {
    this.startFailures++;
    this.clearTimers();
    if (proc) this.terminate(proc);
    // The supervisor hears of every failure, a fatal one too: that is what marks the version failed.
    const giveUp = this.host.startFailed(this, kind, message) || kind === 'fatal';
    const reason = `${message}: ${quoteOutput(this.log.lastLines())}`;
    if (giveUp) {
      this.log.note(`gave up: ${reason}`);
      this.setState('failed', reason);
      return;
    }
    this.scheduleRestart(reason);
  }

  private restartAfterFailure(proc: Proc, reason: string): void {
    this.clearTimers();
    this.terminate(proc);
    this.scheduleRestart(reason);
  }

  private scheduleRestart(reason: string): void {
    const delay = this.backoff.next();
    this.log.note(`restarting in ${delay}ms: ${reason}`);
    this.setState('crashed', `${reason} (restarting in ${delay}ms)`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.retiring) return;
      this.restarts++;
      void this.launch();
    }, delay);
  }

  /** Stops a process that is not serving: SIGTERM, then SIGKILL after a short grace. */
  private terminate(proc: Proc): void {
    if (!proc.alive) return;
    proc.expected = true;
    killGroup(proc.pid, 'SIGTERM');
    void within(proc.exited, Math.min(this.spec.drainTimeoutMs, 2000)).then((exited) => {
      if (!exited) sigkill(proc);
    });
  }

  private async drainAndStop(deadline: number): Promise<void> {
    const proc = this.proc;
    if (!proc || !proc.alive) {
      if (proc) await proc.exited;
      this.setState('stopped');
      return;
    }
    const wasServing = !proc.expected && (this.state === 'ready' || this.state === 'unhealthy');
    proc.expected = true;
    this.setState('draining');
    const drainMs = this.spec.drainTimeoutMs;
    if (wasServing) {
      // The router must stop sending new requests before in-flight ones are counted.
      await within(this.host.syncRouter(), Math.max(0, Math.min(2000, deadline - Date.now())));
      const until = Math.min(Date.now() + drainMs, deadline);
      while (proc.alive && this.host.inFlight(this.id) > 0 && Date.now() < until) await sleep(20);
    }
    if (proc.alive) {
      this.log.note('sending SIGTERM');
      killGroup(proc.pid, 'SIGTERM');
      const exited = await within(proc.exited, Math.min(drainMs, deadline - Date.now()));
      if (!exited && proc.alive) {
        this.log.note(`still running ${drainMs}ms after SIGTERM: sending SIGKILL`);
        sigkill(proc);
        await within(proc.exited, 15_000);
      }
    }
    this.setState('stopped');
  }
}

function sigkill(proc: Proc): void {
  proc.killedAt = Date.now();
  killGroup(proc.pid, 'SIGKILL');
}

/** True while some process of group `pgid` exists. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves when the process group of `proc` is empty. Bounded: whoever stops an instance sends
 * SIGKILL at its deadline, and 10s after that we stop waiting (zombies nobody reaps).
 */
async function waitGroupGone(proc: Proc): Promise<void> {
  while (proc.pid > 0 && groupAlive(proc.pid)) {
    if (proc.killedAt && Date.now() - proc.killedAt > 10_000) return;
    await sleep(25);
  }
}

const SHELL_SYNTAX = /[;&|<>()`\n*?[\]{}~!#]|\$\(/;
const NOT_EXECABLE = new Set(['cd', 'exec', 'export', 'set', 'source', '.', 'eval', 'ulimit', 'umask', 'trap', 'alias', 'unset', 'readonly', 'local', 'if', 'for', 'while', 'until', 'case', 'command', 'nohup']);

/**
 * `exec CMD` for a simple command, so the app replaces the shell: its pid is the one we report
 * and signal. Anything with shell syntax runs as written (the process group still covers it).
 */
export function execForm(command: string): string {
  const trimmed = command.trim();
  const first = trimmed.split(/\s+/)[0] ?? '';
  if (!trimmed || SHELL_SYNTAX.test(trimmed) || first.includes('=') || NOT_EXECABLE.has(first)) return command;
  return `exec ${trimmed}`;
}

/** Signals a whole process group; a group that is already gone is not an error. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  if (pgid <= 0) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing left to signal
  }
}
