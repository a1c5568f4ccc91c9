/**
 * `rollgate up` keeps its agent running: every environment listener and instance lives in the
 * agent's process, so a dead agent means every connection refused. When the agent dies without
 * having been asked to, `up` says so at once on stderr, records it in up.json (for `rollgate
 * status` and a second `up`), and starts a new one on the same API port (the server keeps its
 * URL and token). The new agent reaps the old one's instances and brings back every service from
 * its desired-state file (agent/state-file.ts). Restarts are bounded: at most
 * MAX_RESTARTS_PER_MINUTE, with a growing pause between them; past that the agent is left dead
 * and `up` says what to do, since a crash loop would only hide the cause.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RollgateError } from '../core/errors.js';
import { findLiveAgent, type LiveAgent } from './agent-file.js';
import { isAlive, terminate } from './daemon-process.js';
import type { Output } from './output.js';
import { dataDirFlag, readUpFile, tail, writeUpFile, type UpFile } from './platform-file.js';
import { BIN_PATH } from './runtime.js';

export const MAX_RESTARTS_PER_MINUTE = 5;
const BACKOFF_MS = [250, 1000, 2000, 4000, 8000];
const AGENT_START_TIMEOUT_MS = 20_000;
/** How often `up` checks that the agent's process is alive (and writes lastSeenAt). */
const CHECK_MS = 1000;
const SEEN_WRITE_MS = 5000;

export interface UpAgent extends LiveAgent {
  /** Set when `up` started the agent; null when it adopted a running one. */
  child: ChildProcess | null;
}

/** Starts `rollgate agent` for the data directory in its own process group and waits until it answers. */
export async function spawnAgent(dataDir: string, port: number): Promise<UpAgent> {
  const logFile = join(dataDir, 'agent.log');
  const fd = openSync(logFile, 'a', 0o600);
  // Its own process group: Ctrl-C on `up` reaches only `up`, which then stops the agent in order.
  const child = spawn(process.execPath, [BIN_PATH, 'agent', '--data-dir', dataDir, '--port', String(port)], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: string | null = null;
  child.once('exit', (code, sig) => (exited = sig ?? `exit code ${code}`));
  const deadline = Date.now() + AGENT_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null) {
      throw new RollgateError('agent_unreachable', `the agent stopped while starting (${exited}); its log ${logFile} ends with:\n${tail(logFile, 15)}`);
    }
    if (child.pid !== undefined) {
      const found = await findLiveAgent(dataDir, { pid: child.pid });
      if (found) return { ...found, child };
    }
    await sleep(100);
  }
  if (child.pid !== undefined) await terminate(child.pid, 5000);
  throw new RollgateError('agent_unreachable', `the agent did not come up within ${AGENT_START_TIMEOUT_MS / 1000}s; see ${logFile}:\n${tail(logFile, 15)}`);
}

const portOf = (url: string) => Number(new URL(url).port);

export class AgentKeeper {
  private stopping = false;
  private restartTimes: number[] = [];
  private restarts = 0;
  private lastExit: NonNullable<UpFile['agent']>['lastExit'] = null;
  private state: NonNullable<UpFile['agent']>['state'] = 'running';
  private lastSeenAt = new Date().toISOString();
  private lastSeenWrite = 0;
  private timer: NodeJS.Timeout | null = null;
  private pending: Promise<void> | null = null;

  constructor(
    private agent: UpAgent,
    private readonly opts: { dataDir: string; out: Output; shownDataDir: string },
  ) {}

  get current(): UpAgent {
    return this.agent;
  }

  /** From now on a death of the agent is reported and repaired. */
  watch(): void {
    this.listen(this.agent);
    // An adopted agent is not our child: its death shows only as its pid going away.
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  /** The agent is about to be stopped on purpose: its exit is no longer a death. */
  stop(): void {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** After stop(): waits for a restart under way (it stops the agent it was starting). */
  async settled(): Promise<void> {
    await this.pending;
  }

  /** The agent's part of up.json. */
  record(): NonNullable<UpFile['agent']> {
    return { url: this.agent.url, state: this.state, lastSeenAt: this.lastSeenAt, restarts: this.restarts, lastExit: this.lastExit };
  }

  private listen(a: UpAgent): void {
    a.child?.once('exit', (code, sig) => this.died(a, sig ? `killed by ${sig}` : `exit code ${code}`));
  }

  private check(): void {
    if (this.stopping || this.state !== 'running') return;
    if (!isAlive(this.agent.pid)) {
      if (this.agent.child === null) this.died(this.agent, 'its process is gone');
      return;
    }
    this.lastSeenAt = new Date().toISOString();
    if (Date.now() - this.lastSeenWrite >= SEEN_WRITE_MS) this.save();
  }

  private died(a: UpAgent, how: string): void {
    if (this.stopping || a !== this.agent || this.state !== 'running') return;
    const at = new Date().toISOString();
    this.lastExit = { pid: a.pid, how, at };
    const now = Date.now();
    this.restartTimes = this.restartTimes.filter((t) => now - t < 60_000);
    const log = join(this.opts.dataDir, 'agent.log');
    const lost = 'every environment listener refuses connections and its instances are gone until an agent runs again; the API still answers and nothing recorded is lost';
    if (this.restartTimes.length >= MAX_RESTARTS_PER_MINUTE) {
      this.state = 'dead';
      this.save();
      this.opts.out.warn(`the agent (pid ${a.pid}) died (${how}) at ${at}; ${lost}. It died ${MAX_RESTARTS_PER_MINUTE} times within a minute, so it is not restarted again: see ${log}, fix the cause, then stop this \`up\` (Ctrl-C) and run \`rollgate up${dataDirFlag(this.opts.shownDataDir)}\` again`);
      return;
    }
    this.state = 'restarting';
    this.save();
    const delay = BACKOFF_MS[Math.min(this.restartTimes.length, BACKOFF_MS.length - 1)]!;
    this.restartTimes.push(now);
    this.opts.out.warn(`the agent (pid ${a.pid}) died (${how}) at ${at}; ${lost}. Restarting it in ${delay / 1000}s (restart ${this.restartTimes.length} of at most ${MAX_RESTARTS_PER_MINUTE} a minute; its log: ${log})`);
    this.pending = this.restart(delay).finally(() => (this.pending = null));
  }

  private async restart(delay: number): Promise<void> {
    await sleep(delay);
    if (this.stopping) return;
    try {
      const next = await spawnAgent(this.opts.dataDir, portOf(this.agent.url));
      this.agent = next;
      this.restarts += 1;
      this.state = 'running';
      this.lastSeenAt = new Date().toISOString();
      this.save();
      // A stop came while it started: `up` (after settled()) stops it as any agent of its own.
      if (this.stopping) return;
      this.listen(next);
      this.opts.out.warn(`the agent is running again (pid ${next.pid}, ${next.url}); it brings back every environment listener and instance from its saved desired state`);
    } catch (e) {
      // Counts as another death: the same bounded backoff decides whether to try again.
      this.state = 'running';
      this.died(this.agent, `restart failed: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  private save(): void {
    this.lastSeenWrite = Date.now();
    const up = readUpFile(this.opts.dataDir);
    // up.json is written once `up` runs; before that there is nothing to update.
    if (up?.pid === process.pid) writeUpFile(this.opts.dataDir, { ...up, agentPid: this.agent.pid, agentStarted: up.agentStarted || this.agent.child !== null, agent: this.record() });
  }
}
