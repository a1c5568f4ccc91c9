/**
 * What each instance costs: CPU seconds and resident memory of its whole process tree, sampled
 * about once a second from /proc.
 *
 * The tree of an instance is its pid (the process the agent spawned: the app itself, its shell,
 * or the bubblewrap / setpriv launcher), every descendant by parent pid, and every process still
 * in its process group (a child reparented to init after its parent died is still the instance's:
 * the agent kills that group on stop). Sandboxed and other-user processes are seen by their host
 * pids, so isolation changes nothing here.
 *
 * Cost, bounded: per sample, one readdir of /proc and one read of /proc/PID/stat per process on
 * the host, shared by every instance: about 2 ms of CPU per sample with 100 processes (0.2% of
 * a core at one sample a second). The reads are synchronous (an asynchronous read costs ~6x the
 * CPU) in batches of READ_BATCH, yielding to the event loop between batches, so the router in
 * the same process never waits more than a fraction of a millisecond. No sample while no instance
 * has a process; a sample never overlaps the previous one. A process that exits mid-read is
 * simply not counted in that sample.
 *
 * CPU is utime+stime+cutime+cstime summed over the tree (reaped children's time moves into their
 * parent's cutime, so the sum does not drop when a child exits). The reported `cpuSeconds` is a
 * counter per instance id: it only adds positive changes, and goes on across restarts (a new pid
 * adds its own time), as a Prometheus counter does.
 */
import { readdir } from 'node:fs/promises';
import type { InstanceResources } from '../core/dataplane.js';
import { hostUnits, readProcStat, type HostUnits, type ProcStat } from './proc-stat.js';

export interface SampledInstance {
  id: string;
  pid: number | null;
}

interface Track {
  pid: number;
  /** The tree's ticks at the last sample of this pid. */
  lastTicks: number;
  /** Counter so far, in ticks. */
  totalTicks: number;
  latest: InstanceResources | null;
  lastAtMs: number;
}

export interface ResourceSamplerOptions {
  /** The instances to sample now (called at every sample). */
  instances: () => SampledInstance[];
  intervalMs?: number;
  /** Host units (tests); default asked of getconf once. */
  units?: HostUnits;
  /** Where processes are listed (tests); default /proc. */
  listPids?: () => Promise<number[]>;
  readStat?: (pid: number) => ProcStat | null | Promise<ProcStat | null>;
  now?: () => number;
}

/** /proc reads between two yields to the event loop (~0.4 ms). */
const READ_BATCH = 32;

async function procPids(): Promise<number[]> {
  const names = await readdir('/proc').catch(() => [] as string[]);
  const out: number[] = [];
  for (const n of names) if (/^\d+$/.test(n)) out.push(Number(n));
  return out;
}

/** The sum over each root's tree, from one listing of every process. Pure. */
export function treeTotals(stats: readonly ProcStat[], roots: readonly number[]): Map<number, { ticks: number; rssPages: number; processes: number }> {
  const children = new Map<number, ProcStat[]>();
  const byPid = new Map<number, ProcStat>();
  for (const s of stats) {
    byPid.set(s.pid, s);
    let list = children.get(s.ppid);
    if (!list) children.set(s.ppid, (list = []));
    list.push(s);
  }
  const out = new Map<number, { ticks: number; rssPages: number; processes: number }>();
  for (const root of roots) {
    const seen = new Set<number>();
    const queue: ProcStat[] = [];
    const add = (s: ProcStat | undefined) => {
      if (s && !seen.has(s.pid)) {
        seen.add(s.pid);
        queue.push(s);
      }
    };
    add(byPid.get(root));
    if (queue.length === 0) continue; // the root exited: no sample for it
    for (const s of stats) if (s.pgrp === root) add(s);
    let ticks = 0;
    let rssPages = 0;
    for (let i = 0; i < queue.length; i++) {
      const s = queue[i]!;
      ticks += s.cpuTicks;
      if (!s.dead) rssPages += s.rssPages;
      for (const c of children.get(s.pid) ?? []) add(c);
    }
    out.set(root, { ticks, rssPages, processes: queue.length });
  }
  return out;
}

export class ResourceSampler {
  private readonly tracks = new Map<string, Track>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private units: HostUnits | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ResourceSamplerOptions) {
    this.units = opts.units;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sample(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The latest sample of an instance (of process `pid`, when given: not a restarted instance's old process); undefined before its first one. */
  get(id: string, pid?: number): InstanceResources | undefined {
    const t = this.tracks.get(id);
    if (!t || (pid !== undefined && t.pid !== pid)) return undefined;
    return t.latest ?? undefined;
  }

  /** Takes one sample of every instance now (the timer calls this; tests may too). */
  async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const list = this.opts.instances();
      const live = new Set(list.map((i) => i.id));
      for (const id of this.tracks.keys()) if (!live.has(id)) this.tracks.delete(id);
      const withPid = list.filter((i): i is { id: string; pid: number } => i.pid !== null && i.pid > 0);
      if (withPid.length === 0) return;
      this.units ??= await hostUnits();
      const pids = await (this.opts.listPids ?? procPids)();
      const read = this.opts.readStat ?? readProcStat;
      const stats: ProcStat[] = [];
      for (let i = 0; i < pids.length; i++) {
        if (i > 0 && i % READ_BATCH === 0) await new Promise((r) => setImmediate(r));
        const r = read(pids[i]!);
        const s = r instanceof Promise ? await r : r;
        if (s) stats.push(s);
      }
      const totals = treeTotals(stats, withPid.map((i) => i.pid));
      const at = new Date(this.now()).toISOString();
      for (const inst of withPid) {
        const t = totals.get(inst.pid);
        if (!t) continue;
        let track = this.tracks.get(inst.id);
        if (!track) this.tracks.set(inst.id, (track = { pid: inst.pid, lastTicks: 0, totalTicks: 0, latest: null, lastAtMs: 0 }));
        if (track.pid !== inst.pid) Object.assign(track, { pid: inst.pid, lastTicks: 0 }); // restarted: the new process adds its own time
        const added = Math.max(0, t.ticks - track.lastTicks);
        const fresh = track.latest === null || track.lastTicks === 0;
        track.totalTicks += added;
        track.lastTicks = t.ticks;
        const nowMs = Date.parse(at);
        // CPU % over the last interval (100 = one core busy); unknown on a process's first sample.
        const cpuPercent = fresh || nowMs <= track.lastAtMs ? null : Math.round(((added / this.units.ticksPerSecond) * 1000 * 1000) / (nowMs - track.lastAtMs)) / 10;
        track.lastAtMs = nowMs;
        track.latest = { cpuSeconds: track.totalTicks / this.units.ticksPerSecond, rssBytes: t.rssPages * this.units.pageSize, sampledAt: at, processes: t.processes, cpuPercent };
      }
    } finally {
      this.busy = false;
    }
  }
}
