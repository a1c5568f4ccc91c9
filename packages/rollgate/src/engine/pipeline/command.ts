/**
 * Runs one `run` stage command: `/bin/sh -c COMMAND` leading a process group of its own, so a
 * timeout or a cancel reaches the shell's children too. Output comes back as lines, in batches.
 *
 * Every process of the group carries `ROLLGATE_STAGE_MARKER=<marker>` in its environment. That is
 * how a later server (after a restart) or our own delayed SIGKILL tells the group is still ours
 * before signalling it: a pid or process group id may have been reused by then.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import type { Readable } from 'node:stream';
import { errorMessage } from '../../core/errors.js';
import type { Launch } from '../../isolation/types.js';
import { commandEnv } from '../../core/child-env.js';

export interface CommandSpec {
  command: string;
  /** Absolute working directory. */
  cwd: string;
  /** What the stage declares: with PATH, HOME and LANG, the command's whole environment. */
  env: Record<string, string>;
  /** Absolute HOME of the command (the run's own directory). */
  home: string;
  timeoutMs: number;
  /** Unique per attempt, e.g. "<runId>/<stage>/<attempt>". */
  marker: string;
  /** Between SIGTERM and SIGKILL (default 5000). */
  killGraceMs?: number;
  /** How to spawn it isolated (from `Isolation.launch`); default: /bin/sh -c as the server's user. */
  launch?: Launch;
}

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
  /** ISO time the line was complete. */
  at: string;
}

export interface CommandOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  killedBecause: string | null;
  durationMs: number;
  /** The command could not start (missing cwd, no shell) or did not exit after SIGKILL. */
  error: string | null;
}

export interface CommandHandle {
  readonly pid: number | undefined;
  /** Resolves (never rejects) once the process exited and its output was delivered. */
  readonly done: Promise<CommandOutcome>;
  kill(reason: string): void;
}

export const MARKER_VAR = 'ROLLGATE_STAGE_MARKER';
export const MAX_LINE_BYTES = 16 * 1024;
export const CUT_SUFFIX = '…[cut]';
const BATCH_MS = 50;
const BATCH_LINES = 500;
/** After the shell exited, how long grandchildren holding the pipes may delay the end. */
const STREAM_GRACE_MS = 1000;
/** After SIGKILL, how long to wait for the exit before giving up on it. */
const REAP_MS = 5000;
const LEFTOVER_GRACE_MS = 5000;
/** setTimeout fires at once beyond this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Splits one stream into lines; holds at most one line (cut at MAX_LINE_BYTES) at a time. */
class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overflow = false;

  constructor(private readonly emit: (text: string) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      this.take(chunk.subarray(start, nl === -1 ? chunk.length : nl));
      if (nl === -1) return;
      this.endLine();
      start = nl + 1;
    }
  }

  /** The last line, when the output did not end with a newline. */
  end(): void {
    if (this.size > 0 || this.overflow) this.endLine();
  }

  private take(piece: Buffer): void {
    // Two bytes beyond the limit: enough to tell a too-long line from one ending in "\r".
    const room = MAX_LINE_BYTES + 2 - this.size;
    if (piece.length > room) this.overflow = true;
    const kept = piece.length > room ? piece.subarray(0, room) : piece;
    if (kept.length === 0) return;
    this.parts.push(Buffer.from(kept)); // a copy: the chunk's memory is not held by a slice
    this.size += kept.length;
  }

  private endLine(): void {
    let buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    const overflow = this.overflow;
    this.overflow = false;
    if (!overflow && buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    if (overflow || buf.length > MAX_LINE_BYTES) {
      let n = MAX_LINE_BYTES;
      while (n > 0 && (buf[n]! & 0xc0) === 0x80) n--; // do not split a UTF-8 character
      this.emit(buf.subarray(0, n).toString('utf8') + CUT_SUFFIX);
    } else {
      this.emit(buf.toString('utf8'));
    }
  }
}

/** Collects lines of both streams in arrival order; delivers every BATCH_MS or BATCH_LINES. */
class Batcher {
  private pending: OutputLine[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deliver: (lines: OutputLine[]) => void) {}

  add(line: OutputLine): void {
    this.pending.push(line);
    if (this.pending.length >= BATCH_LINES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    try {
      this.deliver(lines);
    } catch {
      // A failing consumer must not crash the server from inside a stream handler.
    }
  }
}

function cwdProblem(cwd: string): string | null {
  if (!isAbsolute(cwd)) return `working directory ${cwd} is not an absolute path`;
  try {
    if (!statSync(cwd).isDirectory()) return `working directory ${cwd} is not a directory`;
  } catch {
    return `working directory ${cwd} does not exist`;
  }
  return null;
}

function childEnv(spec: CommandSpec): NodeJS.ProcessEnv {
  // Nothing of the server's environment (database URL, tokens, cloud keys): see core/child-env.ts.
  return commandEnv(spec.env, { home: spec.home, nodeDir: dirname(process.execPath) }, { [MARKER_VAR]: spec.marker });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone already
  }
}

interface GroupState {
  /** Live (not zombie) processes in the group. */
  members: number;
  /** Some member carries the marker. */
  ours: boolean;
  /** A live process with this pid exists (in whatever group). */
  pidAlive: boolean;
}

/** The process group of a live process carrying the marker, if any (walks /proc). */
async function findMarkedGroup(marker: string): Promise<number | null> {
  const wanted = `${MARKER_VAR}=${marker}`;
  const names = await readdir('/proc').catch(() => [] as string[]);
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = await readFile(`/proc/${name}/environ`, 'utf8');
      if (!environ.split('\0').includes(wanted)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || rest[0] === 'X') continue;
      const pgid = Number(rest[2]);
      if (Number.isInteger(pgid) && pgid > 1) return pgid;
    } catch {
      // went away while we looked, or not readable: not ours
    }
  }
  return null;
}

/** Looks at process group `pgid` in /proc. */
async function inspectGroup(pgid: number, marker: string): Promise<GroupState> {
  const state: GroupState = { members: 0, ours: false, pidAlive: false };
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return state;
  }
  const wanted = `${MARKER_VAR}=${marker}`;
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces) start after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || rest[0] === 'X') continue; // dead, only waiting to be reaped
      if (Number(name) === pgid) state.pidAlive = true;
      if (Number(rest[2]) !== pgid) continue;
      state.members++;
      if (!state.ours) {
        const environ = await readFile(`/proc/${name}/environ`, 'utf8');
        if (environ.split('\0').includes(wanted)) state.ours = true;
      }
    } catch {
      // went away while we looked, or not readable: not ours
    }
  }
  return state;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * SIGTERM to the group, SIGKILL after `graceMs` to whatever of it is left, and only while a
 * member still carries the marker. Resolves when the group is gone (or SIGKILL was sent).
 */
/** Whether any process (zombies included) is left in group `pgid`: one syscall, no /proc walk. */
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function stopMarkedGroup(pgid: number, marker: string, graceMs: number): Promise<void> {
  // The common case, a command that left nothing behind, costs one syscall.
  if (!groupExists(pgid)) return;
  if (!(await inspectGroup(pgid, marker)).ours) return;
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
    if (!(await inspectGroup(pgid, marker)).ours) return;
  }
  if ((await inspectGroup(pgid, marker)).ours) signalGroup(pgid, 'SIGKILL');
}

export function startCommand(spec: CommandSpec, onLines: (lines: OutputLine[]) => void): CommandHandle {
  const startedAt = Date.now();
  const graceMs = spec.killGraceMs ?? 5000;
  const failed = (error: string): CommandHandle => ({
    pid: undefined,
    done: Promise.resolve({ exitCode: null, signal: null, timedOut: false, killedBecause: null, durationMs: Date.now() - startedAt, error }),
    kill: () => {},
  });
  const problem = cwdProblem(spec.cwd);
  if (problem !== null) return failed(`could not start the command: ${problem}`);

  let child: ChildProcess;
  try {
    const launch = spec.launch ?? { file: '/bin/sh', args: ['-c', spec.command], env: {} };
    child = spawn(launch.file, launch.args, { cwd: spec.cwd, env: { ...childEnv(spec), ...launch.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return failed(`could not start /bin/sh in ${spec.cwd}: ${errorMessage(e)}`);
  }
  const pid = child.pid;

  const batcher = new Batcher(onLines);
  const lineFor = (stream: OutputLine['stream']) => (text: string) => batcher.add({ stream, text, at: new Date().toISOString() });
  const streams: [Readable, LineSplitter][] = [
    [child.stdout!, new LineSplitter(lineFor('stdout'))],
    [child.stderr!, new LineSplitter(lineFor('stderr'))],
  ];

  let exited: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null;
  let openStreams = streams.length;
  let timedOut = false;
  let killedBecause: string | null = null;
  let stopping = false;
  let spawnError: string | null = null;
  let finished = false;
  const timers: NodeJS.Timeout[] = [];
  let resolveDone!: (o: CommandOutcome) => void;
  const done = new Promise<CommandOutcome>((r) => (resolveDone = r));

  const finish = (error: string | null) => {
    if (finished) return;
    finished = true;
    for (const t of timers) clearTimeout(t);
    for (const [stream, splitter] of streams) {
      if (!stream.readableEnded) {
        stream.removeAllListeners('data');
        stream.destroy();
        splitter.end();
      }
    }
    batcher.flush();
    resolveDone({
      exitCode: exited?.code ?? null,
      signal: exited?.signal ?? null,
      timedOut,
      killedBecause,
      durationMs: (exited?.at ?? Date.now()) - startedAt,
      error,
    });
    // Nothing a stage started outlives it: background children left behind go too.
    if (pid !== undefined && spawnError === null && !stopping) void stopMarkedGroup(pid, spec.marker, graceMs).catch(() => {});
  };

  for (const [stream, splitter] of streams) {
    stream.on('data', (chunk: Buffer) => splitter.push(chunk));
    stream.on('error', () => {}); // 'close' follows; what was read is kept
    stream.on('close', () => {
      splitter.end();
      openStreams--;
      if (openStreams === 0 && exited) finish(null);
    });
  }

  const stop = () => {
    if (stopping || exited || pid === undefined) return;
    stopping = true;
    signalGroup(pid, 'SIGTERM');
    // Not cleared by finish(): the shell may die at SIGTERM while a child of it ignores it.
    setTimeout(() => {
      // The shell still running means the group id is still ours; after its exit, check the marker.
      if (!exited) signalGroup(pid, 'SIGKILL');
      else void stopMarkedGroup(pid, spec.marker, 0).catch(() => {});
      if (!finished) timers.push(setTimeout(() => finish(`the command did not exit ${REAP_MS} ms after SIGKILL`), REAP_MS));
    }, graceMs);
  };

  child.on('error', (e) => {
    // With a pid the process started: this is then a signalling error, and 'exit' still comes.
    if (child.pid !== undefined) return;
    spawnError = `could not start /bin/sh in ${spec.cwd}: ${e.message}`;
    finish(spawnError);
  });
  child.on('exit', (code, signal) => {
    exited = { code, signal, at: Date.now() };
    if (openStreams === 0) finish(null);
    else timers.push(setTimeout(() => finish(null), STREAM_GRACE_MS));
  });

  timers.push(
    setTimeout(() => {
      if (stopping || exited) return;
      timedOut = true;
      stop();
    }, Math.min(Math.max(0, spec.timeoutMs), MAX_TIMER_MS)),
  );

  return {
    get pid() {
      return pid;
    },
    done,
    kill(reason: string) {
      if (stopping || exited) return;
      killedBecause = reason;
      stop();
    },
  };
}

/**
 * Stops a command a previous server started (its process group outlived that server). Signals
 * only when a process of group `pid` carries `ROLLGATE_STAGE_MARKER=<marker>`: SIGTERM, up to
 * 5 s, then SIGKILL.
 */
export async function stopLeftover(pid: number | undefined, marker: string): Promise<'stopped' | 'gone' | 'not-ours'> {
  if (pid === undefined) {
    // The pid was never recorded (the server died right after starting it): find it by marker.
    const found = await findMarkedGroup(marker);
    if (found === null) return 'gone';
    pid = found;
  }
  if (!Number.isInteger(pid) || pid <= 1) return 'gone';
  const state = await inspectGroup(pid, marker);
  if (state.members === 0) return state.pidAlive ? 'not-ours' : 'gone';
  if (!state.ours) return 'not-ours';
  await stopMarkedGroup(pid, marker, LEFTOVER_GRACE_MS);
  // SIGKILL is not instant: give the group a moment to be gone before reporting.
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline && (await inspectGroup(pid, marker)).ours) await sleep(50);
  return 'stopped';
}
