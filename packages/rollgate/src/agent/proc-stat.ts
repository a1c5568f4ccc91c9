/**
 * One process's CPU and memory from /proc/PID/stat (Linux), and the host's clock tick and page
 * size. /proc/PID/stat is world-readable, so this works for instances run as another OS user or
 * inside a bubblewrap sandbox (their host pids are visible to the agent).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  /** utime + stime + cutime + cstime in clock ticks: the children it reaped count, so a tree's sum keeps growing when a child exits. */
  cpuTicks: number;
  /** Resident set in pages. */
  rssPages: number;
  /** Zombie or dead: no memory of its own any more. */
  dead: boolean;
}

/** Parses the text of /proc/PID/stat; null when it is not one (truncated, garbled). */
export function parseProcStat(pid: number, text: string): ProcStat | null {
  // The command name is in parentheses and may itself hold spaces and ')': fields start after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).trim().split(' ');
  // f[0] = state (field 3), f[1] = ppid, f[2] = pgrp, f[11..14] = utime stime cutime cstime, f[21] = rss.
  if (f.length < 22) return null;
  const nums = [f[1], f[2], f[11], f[12], f[13], f[14], f[21]].map(Number);
  if (nums.some((n) => !Number.isFinite(n))) return null;
  const [ppid, pgrp, ut, st, cut, cst, rss] = nums as [number, number, number, number, number, number, number];
  return { pid, ppid, pgrp, cpuTicks: ut + st + cut + cst, rssPages: Math.max(0, rss), dead: f[0] === 'Z' || f[0] === 'X' };
}

/**
 * Reads one process; null when it exited meanwhile (or cannot be read). Synchronous on purpose:
 * a /proc read takes microseconds, and an asynchronous one costs several times the CPU (a
 * thread-pool round trip per file); the sampler yields to the event loop between small batches.
 */
export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

export interface HostUnits {
  /** Clock ticks per second (`getconf CLK_TCK`). */
  ticksPerSecond: number;
  pageSize: number;
}

function getconf(name: string): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('getconf', [name], { timeout: 2000 }, (err, out) => {
      const n = Number(String(out).trim());
      resolve(err || !Number.isInteger(n) || n <= 0 ? null : n);
    });
  });
}

/** Asked once: 100 ticks and 4 KiB pages (Linux on x86-64 and arm64) when getconf is missing. */
export async function hostUnits(): Promise<HostUnits> {
  const [ticks, page] = await Promise.all([getconf('CLK_TCK'), getconf('PAGESIZE')]);
  return { ticksPerSecond: ticks ?? 100, pageSize: page ?? 4096 };
}
