/**
 * Notices that whoever reads this process's stdout pipe has gone (`rollgate up | tee log` with tee
 * killed, `| head -1` done), without writing to it: a quiet `up` would otherwise only learn of it
 * at its next write, perhaps never. Linux only: the pipe's readers are the processes holding its
 * inode open for reading (/proc/<pid>/fd and fdinfo); elsewhere, or when no reader can be seen
 * (another user's), this watches nothing and a write's EPIPE remains the signal.
 */
import { fstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { isAlive } from './daemon-process.js';

const O_ACCMODE = 0o3;
const O_WRONLY = 0o1;

function pipeReaders(target: string): number[] {
  const found: number[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid);
  } catch {
    return found;
  }
  for (const p of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${p}/fd/${fd}`) !== target) continue;
        const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/${p}/fdinfo/${fd}`, 'utf8'))?.[1];
        if (flags !== undefined && (parseInt(flags, 8) & O_ACCMODE) !== O_WRONLY) {
          found.push(Number(p));
          break;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return found;
}

/** Calls `onGone` once when stdout is a pipe whose every reader has exited; returns a stop function. */
export function watchStdoutReaders(onGone: () => void, everyMs = 1000): () => void {
  let target: string;
  try {
    const st = fstatSync(1);
    if (!st.isFIFO()) return () => undefined;
    target = `pipe:[${st.ino}]`;
  } catch {
    return () => undefined;
  }
  let readers = pipeReaders(target);
  if (readers.length === 0) return () => undefined;
  const timer = setInterval(() => {
    if (readers.some(isAlive)) return;
    readers = pipeReaders(target);
    if (readers.length === 0) {
      clearInterval(timer);
      onGone();
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
