/** `rollgate status`: what each running instance costs (CPU and resident memory of its process tree). */
import type { ServiceStatus } from '../api/contract.js';
import { table } from './format.js';

/** 512 KiB, 48.2 MiB, 1.3 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** One row per instance with a sample; empty when the agent reports none (older agents). */
export function instanceResourceTable(services: readonly ServiceStatus[]): string[] {
  const rows: string[][] = [];
  for (const s of services) {
    for (const v of s.versions) {
      for (const i of v.instances) {
        const r = i.resources;
        if (!r) continue;
        const cpu = r.cpuPercent === null || r.cpuPercent === undefined ? '-' : `${r.cpuPercent.toFixed(1)}%`;
        rows.push([`${s.app}/${s.env}`, i.id, v.version, i.state, cpu, formatBytes(r.rssBytes), `${r.cpuSeconds.toFixed(2)}s`]);
      }
    }
  }
  if (rows.length === 0) return [];
  return ['', table(['service', 'instance', 'version', 'state', 'cpu', 'rss', 'cpu time'], rows)];
}
