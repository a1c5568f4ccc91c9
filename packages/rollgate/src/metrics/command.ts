/**
 * Command metric source: runs `/bin/sh -c RUN` in a process group of its own.
 *
 * - `output: 'exit'` (default): exit 0 → value 1, any other exit (or death by a signal it did
 *   not get from us) → value 0, with the exit code and the last stderr line in `raw`. A failing
 *   check is an observation, not an error.
 * - `output: 'number' | 'text' | 'boolean'`: the value is the last non-empty stdout line. The
 *   command must exit 0 (otherwise its output cannot be trusted: error), and the line must
 *   parse as asked (otherwise error).
 * - Timeout or abort: the whole process group gets SIGKILL (a shell's children too) and the
 *   measurement is an error. A command that cannot start is an error.
 *
 * The command sees nothing of the server's environment: a fixed PATH, HOME and LANG
 * (core/child-env.ts), then ROLLGATE_APP, ROLLGATE_ENV, ROLLGATE_CANARY, ROLLGATE_STABLE (empty
 * on a first deployment), ROLLGATE_WINDOW_SECONDS, then the spec's `env`. Values are passed as
 * variables, never pasted into the command line (no shell injection). What it prints (value,
 * last lines, messages) is masked by createMetricSources, as every source's answer is.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { commandEnv } from '../core/child-env.js';
import { parseDuration } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import { abortedMessage, deadline } from './deadline.js';
import { errorOf, valueOf, type CommandQuery, type MeasureContext, type Measurement, type MetricSource } from './types.js';

/** Output kept per stream: the tail is what matters (last line, last error). */
const KEEP_BYTES = 64 * 1024;
/** After SIGKILL, how long to wait for the exit before reporting anyway. */
const REAP_MS = 2000;

class Tail {
  private buf = '';
  push(chunk: Buffer): void {
    this.buf += chunk.toString('utf8');
    if (this.buf.length > KEEP_BYTES * 2) this.buf = this.buf.slice(-KEEP_BYTES);
  }
  get text(): string {
    return this.buf.slice(-KEEP_BYTES);
  }
  lastLine(): string | null {
    const lines = this.text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
    return lines.length > 0 ? (lines[lines.length - 1] as string) : null;
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
}

export interface CommandSourceOptions {
  /** Working directory when the query names none (default: the process's). */
  cwd?: string;
  /** HOME of the commands (default: the system's temporary directory, never the server's home). */
  home?: string;
  /** Shell (default /bin/sh). */
  shell?: string;
}

export class CommandSource implements MetricSource<CommandQuery> {
  readonly kind = 'command' as const;

  constructor(private readonly opts: CommandSourceOptions = {}) {}

  async measure(q: CommandQuery, ctx: MeasureContext): Promise<Measurement> {
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(q.timeout, 'command timeout');
    } catch (e) {
      return errorOf(errorMessage(e));
    }
    const what = `command ${JSON.stringify(q.run)}`;
    if (ctx.signal.aborted) return errorOf(abortedMessage(what, ctx.signal));
    // The platform's own settings (database URL, tokens, cloud keys) are not the command's business.
    const declared: Record<string, string> = {
      ROLLGATE_APP: ctx.app,
      ROLLGATE_ENV: ctx.env,
      ROLLGATE_CANARY: ctx.canary,
      ROLLGATE_STABLE: ctx.stable ?? '',
      ROLLGATE_WINDOW_SECONDS: String(Math.round(ctx.windowMs / 1000)),
      ...q.env,
    };
    const env = commandEnv(declared, { home: this.opts.home ?? tmpdir(), nodeDir: dirname(process.execPath) });
    const cwd = q.cwd ?? this.opts.cwd ?? process.cwd();
    const stdout = new Tail();
    const stderr = new Tail();
    const d = deadline(ctx.signal, timeoutMs);
    let pid: number | undefined;
    // Set when we killed it (timeout or abort); a deadline passing after a normal exit changes nothing.
    let killed: string | null = null;
    try {
      const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { spawnError: Error }>((resolve) => {
        let settled = false;
        const settle = (v: { code: number | null; signal: NodeJS.Signals | null } | { spawnError: Error }) => {
          if (settled) return;
          settled = true;
          resolve(v);
        };
        // detached: the command leads its own process group, so one kill reaches its children.
        const child = spawn(this.opts.shell ?? '/bin/sh', ['-c', q.run], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        pid = child.pid;
        child.stdout.on('data', (c: Buffer) => stdout.push(c));
        child.stderr.on('data', (c: Buffer) => stderr.push(c));
        child.on('error', (e) => settle({ spawnError: e }));
        // 'close' waits for the pipes; a grandchild holding them after our exit would stall it, so
        // after 'exit' give the pipes a moment, then settle anyway.
        child.on('close', (code, signal) => settle({ code, signal }));
        child.on('exit', (code, signal) => setTimeout(() => settle({ code, signal }), 200));
        const onFire = () => {
          killed = d.reason(what) ?? `${what} was stopped`;
          killGroup(child.pid);
          child.stdout.destroy();
          child.stderr.destroy();
          // Normally 'exit' follows at once; never wait forever for it.
          setTimeout(() => settle({ code: null, signal: 'SIGKILL' }), REAP_MS);
        };
        if (d.signal.aborted) onFire();
        else d.signal.addEventListener('abort', onFire, { once: true });
      });
      const raw = { exitCode: 'spawnError' in ended ? null : ended.code, signal: 'spawnError' in ended ? null : ended.signal, stdout: stdout.lastLine(), stderr: stderr.lastLine() };
      if (killed !== null) return errorOf(`${killed} (its process group was killed)`, raw);
      if ('spawnError' in ended) return errorOf(`${what} could not start in ${cwd}: ${ended.spawnError.message}`);
      // Nothing started by a measurement outlives it: background children left by the command go too.
      killGroup(pid);
      const output = q.output ?? 'exit';
      const failedHow = ended.signal ? `was killed by ${ended.signal}` : `exited with code ${ended.code}`;
      if (output === 'exit') return valueOf(ended.code === 0 ? 1 : 0, raw);
      if (ended.code !== 0) {
        return errorOf(`${what} ${failedHow}${raw.stderr ? ` (${raw.stderr})` : ''}; its output is not read as a value unless it exits 0`, raw);
      }
      const line = stdout.lastLine();
      if (line === null) return errorOf(`${what} printed nothing; its last line of output is the value`, raw);
      if (output === 'text') return valueOf(line, raw);
      if (output === 'boolean') {
        if (/^(true|1|yes)$/i.test(line)) return valueOf(true, raw);
        if (/^(false|0|no)$/i.test(line)) return valueOf(false, raw);
        return errorOf(`${what}: last line ${JSON.stringify(line)} is not true or false`, raw);
      }
      const n = Number(line);
      if (line === '' || !Number.isFinite(n)) return errorOf(`${what}: last line of output ${JSON.stringify(line.slice(0, 80))} is not a number; print the value alone on the last line`, raw);
      return valueOf(n, raw);
    } finally {
      d.dispose();
    }
  }
}
