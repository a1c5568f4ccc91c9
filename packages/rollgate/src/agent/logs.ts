/**
 * Per-instance output capture: every stdout/stderr line becomes one JSON line
 * `{at, stream, text, version}` in `<dataDir>/logs/<env>/<app>/<instance>.log`, and the last
 * lines stay in memory so a failure reason can quote them. Known secret values are replaced by
 * `[secret:NAME]` before a line is kept anywhere (file or memory).
 */
import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ServiceKey } from '../core/dataplane.js';
import type { LogLine } from '../core/dataplane-schema.js';
import type { SecretMasker } from '../core/secret-masker.js';

export type Stream = 'stdout' | 'stderr';

const MAX_LINE = 16 * 1024;
const ROTATE_BYTES = 8 * 1024 * 1024;
const KEEP_IN_MEMORY = 20;

export function serviceLogDir(dataDir: string, key: ServiceKey): string {
  return join(dataDir, 'logs', key.env, key.app);
}

/**
 * Lines are appended with synchronous writes on an open descriptor: a line is readable (by
 * `rollgate logs`) the moment it is captured, and nothing is lost if the agent dies.
 */
export class InstanceLog {
  private fd: number | null = null;
  private bytes = 0;
  private readonly recent: { stream: Stream; text: string }[] = [];
  readonly file: string;

  constructor(
    private readonly dir: string,
    readonly instance: string,
    readonly version: string,
    private readonly masker: SecretMasker | null = null,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${instance}.log`);
  }

  /** Reads `source` line by line until it ends. */
  capture(source: Readable, stream: Stream, onLine?: (text: string) => void): void {
    source.setEncoding('utf8');
    let partial = '';
    source.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      if (partial.length > MAX_LINE) {
        // An over-long line is written in pieces; never cut through a secret that may go on in the next chunk.
        const cut = this.masker ? this.masker.safeCut(partial) : partial.length;
        if (cut > 0) {
          this.write(stream, partial.slice(0, cut));
          partial = partial.slice(cut);
        }
      }
      for (const p of parts) {
        this.write(stream, p);
        onLine?.(p);
      }
    });
    source.on('end', () => {
      if (partial) this.write(stream, partial);
      partial = '';
    });
    source.on('error', () => undefined);
  }

  /** A line written by the supervisor itself (start, exit, signals), so logs tell the whole story. */
  note(text: string): void {
    this.write('stderr', `[rollgate] ${text}`);
  }

  write(stream: Stream, raw: string): void {
    const line0 = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    // Masked before it is cut to length, so a cut never leaves half a secret in clear.
    const text = (this.masker ? this.masker.mask(line0) : line0).slice(0, MAX_LINE);
    if (!text.startsWith('[rollgate] ')) {
      this.recent.push({ stream, text });
      if (this.recent.length > KEEP_IN_MEMORY) this.recent.shift();
    }
    const at = new Date().toISOString();
    const line = JSON.stringify({ at, stream, text, version: this.version }) + '\n';
    if (this.closed) return;
    logTaps.emit(this.dir, { at, instance: this.instance, version: this.version, stream, text });
    try {
      if (this.fd === null || this.bytes > ROTATE_BYTES) this.reopen();
      this.bytes += writeSync(this.fd!, line);
    } catch {
      // a full or vanished disk must not take the agent down; the line is lost
    }
  }

  /** The last lines of output, stderr preferred, for a failure message (enough to reach above a stack trace). */
  lastLines(n = KEEP_IN_MEMORY): string[] {
    const err = this.recent.filter((l) => l.stream === 'stderr').map((l) => l.text.trim()).filter(Boolean);
    const src = err.length > 0 ? err : this.recent.map((l) => l.text.trim()).filter(Boolean);
    return src.slice(-n);
  }

  /** Output seen since the last call of `clearRecent` (the current start attempt). */
  clearRecent(): void {
    this.recent.length = 0;
  }

  recentText(): string {
    return this.recent.map((l) => l.text).join('\n');
  }

  private closed = false;

  private reopen(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
      renameSync(this.file, `${this.file}.1`);
    }
    this.fd = openSync(this.file, 'a', 0o600);
    this.bytes = 0;
  }

  /** Closes the file; output arriving later (a process still exiting) is dropped. */
  close(): Promise<void> {
    this.closed = true;
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = null;
    }
    return Promise.resolve();
  }
}

/** Splits an instance id `<app>-<env>-<version>-<n>` into its version, or null if it is not one of this service's. */
export function versionOfInstance(key: ServiceKey, instance: string): string | null {
  const prefix = `${key.app}-${key.env}-`;
  if (!instance.startsWith(prefix)) return null;
  const m = /^(.+)-(\d+)$/.exec(instance.slice(prefix.length));
  return m ? m[1]! : null;
}

/** The last `n` lines of a JSON-lines file, reading backwards in blocks. */
async function tailFile(file: string, n: number): Promise<string[]> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return [];
  }
  try {
    const { size } = await fh.stat();
    const block = 64 * 1024;
    let pos = size;
    let text = '';
    let lines: string[] = [];
    while (pos > 0) {
      const len = Math.min(block, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      text = buf.toString('utf8') + text;
      lines = text.split('\n').filter(Boolean);
      if (lines.length > n) break;
    }
    return lines.slice(-n);
  } finally {
    await fh.close();
  }
}

export interface LogQuery {
  version?: string | undefined;
  instance?: string | undefined;
  tail: number;
}

/** Merged tail of a service's instance logs, oldest first. */
export async function readServiceLogs(dataDir: string, key: ServiceKey, q: LogQuery): Promise<LogLine[]> {
  const dir = serviceLogDir(dataDir, key);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => f.endsWith('.log'));
  } catch {
    return [];
  }
  const out: LogLine[] = [];
  for (const name of names) {
    const instance = name.slice(0, -'.log'.length);
    if (q.instance !== undefined && instance !== q.instance) continue;
    const fileVersion = versionOfInstance(key, instance);
    if (q.version !== undefined && fileVersion !== q.version) continue;
    let raw = await tailFile(join(dir, name), q.tail);
    if (raw.length < q.tail) raw = [...(await tailFile(join(dir, `${name}.1`), q.tail - raw.length)), ...raw];
    for (const r of raw) {
      try {
        const o = JSON.parse(r) as { at?: unknown; stream?: unknown; text?: unknown; version?: unknown };
        if (typeof o.at !== 'string' || typeof o.text !== 'string') continue;
        out.push({
          at: o.at,
          instance,
          version: typeof o.version === 'string' ? o.version : (fileVersion ?? ''),
          stream: o.stream === 'stdout' ? 'stdout' : 'stderr',
          text: o.text,
        });
      } catch {
        // a torn last line after a crash; skip it
      }
    }
  }
  out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return out.slice(-q.tail);
}

/**
 * Live lines of a service's logs for followers (`rollgate logs -f`): every line an InstanceLog
 * keeps is also handed to whoever follows its directory, as it is written. One registry per
 * process (an agent runs one supervisor per data directory; the directory tells them apart).
 */
export class LogTaps {
  private readonly byDir = new Map<string, Set<(line: LogLine) => void>>();

  subscribe(dir: string, onLine: (line: LogLine) => void): () => void {
    let set = this.byDir.get(dir);
    if (!set) this.byDir.set(dir, (set = new Set()));
    set.add(onLine);
    return () => {
      set.delete(onLine);
      if (set.size === 0) this.byDir.delete(dir);
    };
  }

  emit(dir: string, line: LogLine): void {
    const set = this.byDir.get(dir);
    if (!set) return;
    for (const f of set) {
      try {
        f(line);
      } catch {
        // a follower's failure is its own
      }
    }
  }
}

export const logTaps = new LogTaps();

/** Follows a service's log lines (filtered like readServiceLogs) until the returned function is called. */
export function followServiceLogs(dataDir: string, key: ServiceKey, q: Omit<LogQuery, 'tail'>, onLine: (line: LogLine) => void): () => void {
  return logTaps.subscribe(serviceLogDir(dataDir, key), (l) => {
    if (q.instance !== undefined && l.instance !== q.instance) return;
    if (q.version !== undefined && l.version !== q.version) return;
    onLine(l);
  });
}
