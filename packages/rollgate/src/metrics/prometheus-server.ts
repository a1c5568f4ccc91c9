/**
 * A throwaway Prometheus server for tests (not used at run time): its own process, temp TSDB,
 * loopback port, 1 s scrape of the given targets. Needs the `prometheus` binary (Debian
 * package `prometheus`); `findPrometheus` says where it is or why not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './testkit.js';

export function findPrometheus(): { bin: string } | { missing: string } {
  // ROLLGATE_PROMETHEUS_BIN names the one binary to use (and lets a test run see the "missing" path).
  const given = process.env.ROLLGATE_PROMETHEUS_BIN;
  const candidates = given ? [given] : ['/usr/bin/prometheus', '/usr/local/bin/prometheus'];
  for (const bin of candidates) {
    try {
      accessSync(bin, constants.X_OK);
      return { bin };
    } catch {
      // next
    }
  }
  return { missing: `no Prometheus binary (looked at ${candidates.join(', ')}); install it with: apt-get install -y --no-install-recommends prometheus` };
}

export interface PrometheusServer {
  url: string;
  version: string;
  stop(): Promise<void>;
}

export async function startPrometheus(bin: string, targets: string[]): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'rollgate-prom-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: rollgate',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  let log = '';
  const child: ChildProcess = spawn(
    bin,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Never leave it behind, even if the test process dies on an assertion.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode} at start: ${log}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      await stop();
      throw new Error(`prometheus not ready after 15s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  let version = 'unknown';
  try {
    const info = (await (await fetch(`${url}/api/v1/status/buildinfo`)).json()) as { data?: { version?: string } };
    version = info.data?.version ?? version;
  } catch {
    // the version is only reported
  }
  return { url, version, stop };
}
