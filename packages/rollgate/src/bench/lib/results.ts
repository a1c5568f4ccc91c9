/** Where benchmarks write their results (repo root `bench/results/NAME.json`) and how they print them. */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, platform } from 'node:os';
import { fileURLToPath } from 'node:url';

/** Repo root, from dist/bench/lib/results.js. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL('../../../../../bench/results/', import.meta.url));

export async function writeResult(name: string, data: unknown): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const path = `${RESULTS_DIR}${name}.json`;
  await writeFile(path, JSON.stringify(data, null, 2) + '\n');
  return path;
}

export function machineInfo(): { cores: number; cpu: string; node: string; os: string; loadavg1m: number } {
  const c = cpus();
  return {
    cores: c.length,
    cpu: c[0]?.model.trim() ?? 'unknown',
    node: process.version,
    os: `${platform()} ${release()}`,
    loadavg1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** Prints rows as an aligned text table. */
export function printTable(header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const [n, r] of cells.entries()) {
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
