/** Runs a closed-loop load against a URL with wrk when installed, else with the Node generator. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface LoadResult {
  rps: number;
  p99ms: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors. */
  errors: number;
}

export type LoadTool = 'wrk' | 'node';

export function findWrk(): string | null {
  for (const p of ['/usr/bin/wrk', '/usr/local/bin/wrk']) if (existsSync(p)) return p;
  return null;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Parses wrk's text report (run with --latency). */
export function parseWrk(out: string): LoadResult {
  const rps = /Requests\/sec:\s*([\d.]+)/.exec(out);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s*(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (!rps || !p99 || !total) throw new Error(`could not read wrk's report:\n${out}`);
  const sockErrors = sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0;
  return {
    rps: Number(rps[1]),
    p99ms: Number(p99[1]) * (UNIT_MS[p99[2] ?? 'ms'] ?? 1),
    requests: Number(total[1]),
    errors: (non2xx ? Number(non2xx[1]) : 0) + sockErrors,
  };
}

export async function runLoad(tool: LoadTool, port: number, seconds: number, connections: number): Promise<LoadResult> {
  const bound = (seconds + 20) * 1000;
  if (tool === 'wrk') {
    const out = await run(findWrk() ?? 'wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`], bound);
    return parseWrk(out);
  }
  const main = fileURLToPath(new URL('./loadgen-main.js', import.meta.url));
  const out = await run(process.execPath, [main, String(port), String(connections), String(seconds)], bound);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadResult;
}
