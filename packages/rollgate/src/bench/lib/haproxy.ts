/** HAProxy as a benchmark peer: a minimal HTTP keep-alive config, one thread, in a temp dir. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChildOnPort } from './proc.js';

export function findHaproxy(): string | null {
  for (const p of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy']) if (existsSync(p)) return p;
  return null;
}

export interface HaproxyHandle {
  port: number;
  stop(): Promise<void>;
}

export async function startHaproxy(bin: string, upstreamPort: number): Promise<HaproxyHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-bench-haproxy-'));
  try {
    const port = await freePort();
    const cfg = [
      'global',
      '  nbthread 1',
      '  maxconn 4000',
      'defaults',
      '  mode http',
      '  option http-keep-alive',
      '  http-reuse always',
      '  timeout connect 5s',
      '  timeout client 65s',
      '  timeout server 65s',
      '  timeout http-keep-alive 65s',
      'frontend bench',
      `  bind 127.0.0.1:${port}`,
      '  default_backend upstream',
      'backend upstream',
      `  server u1 127.0.0.1:${upstreamPort}`,
      '',
    ].join('\n');
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, cfg);
    await new Promise<void>((resolve, reject) =>
      execFile(bin, ['-c', '-q', '-f', file], { timeout: 10_000 }, (err, _o, stderr) => (err ? reject(new Error(`haproxy rejected its config: ${stderr}`)) : resolve())),
    );
    // -db: stay in the foreground, so the child is the proxy itself and dies with us.
    const child = await startChildOnPort('haproxy', bin, ['-db', '-f', file], port);
    return {
      port,
      stop: async () => {
        await child.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
