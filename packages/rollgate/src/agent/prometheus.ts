/**
 * Prometheus text exposition format 0.0.4 of the router's counters. Every sample of a
 * metric family is written in one group, as the format requires.
 */
import { LATENCY_BOUNDS_MS, type VersionCounters } from './metrics.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface PrometheusEntry {
  env: string;
  app: string;
  version: string;
  counters: VersionCounters;
}

/** Escapes a label value: backslash, double quote and line feed, per the exposition format. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

const CLASSES: ReadonlyArray<[string, (c: VersionCounters) => number]> = [
  ['1xx', (c) => c.c1],
  ['2xx', (c) => c.c2],
  ['3xx', (c) => c.c3],
  ['4xx', (c) => c.c4],
  ['5xx', (c) => c.c5],
];

export function renderPrometheus(entries: Iterable<PrometheusEntry>): string {
  const list = [...entries].map((e) => ({
    labels: `env="${escapeLabelValue(e.env)}",app="${escapeLabelValue(e.app)}",version="${escapeLabelValue(e.version)}"`,
    c: e.counters,
  }));
  const out: string[] = [];

  out.push('# HELP rollgate_requests_total Requests answered by the router, by status class of the response.');
  out.push('# TYPE rollgate_requests_total counter');
  for (const { labels, c } of list) {
    for (const [cls, get] of CLASSES) {
      const n = get(c);
      // 1xx only exists for WebSocket upgrades; omit it when it never happened.
      if (cls === '1xx' && n === 0) continue;
      out.push(`rollgate_requests_total{${labels},code_class="${cls}"} ${fmt(n)}`);
    }
  }

  out.push('# HELP rollgate_upstream_errors_total Requests that got no complete response from an upstream instance.');
  out.push('# TYPE rollgate_upstream_errors_total counter');
  for (const { labels, c } of list) out.push(`rollgate_upstream_errors_total{${labels}} ${fmt(c.upstreamErrors)}`);
  for (const { labels, c } of list) out.push(`rollgate_responses_cut_short_total{${labels}} ${fmt(c.cutShort)}`);

  out.push('# HELP rollgate_retries_total Requests retried on another instance after a connection failure.');
  out.push('# TYPE rollgate_retries_total counter');
  for (const { labels, c } of list) out.push(`rollgate_retries_total{${labels}} ${fmt(c.retries)}`);

  out.push('# HELP rollgate_request_duration_seconds Time from request received to response finished.');
  out.push('# TYPE rollgate_request_duration_seconds histogram');
  for (const { labels, c } of list) {
    let acc = 0;
    for (let i = 0; i < c.buckets.length; i++) {
      acc += c.buckets[i] as number;
      const le = i < LATENCY_BOUNDS_MS.length ? fmt((LATENCY_BOUNDS_MS[i] as number) / 1000) : '+Inf';
      out.push(`rollgate_request_duration_seconds_bucket{${labels},le="${le}"} ${fmt(acc)}`);
    }
    out.push(`rollgate_request_duration_seconds_sum{${labels}} ${fmt(c.sumMs / 1000)}`);
    out.push(`rollgate_request_duration_seconds_count{${labels}} ${fmt(c.requests)}`);
  }
  return out.join('\n') + '\n';
}

export interface InstanceResourceEntry {
  env: string;
  app: string;
  version: string;
  instance: string;
  cpuSeconds: number;
  rssBytes: number;
}

/** Each instance's CPU counter and resident memory (its whole process tree, sampled by the agent). */
export function renderInstanceResources(entries: readonly InstanceResourceEntry[]): string {
  const labels = (e: InstanceResourceEntry) => `app="${escapeLabelValue(e.app)}",env="${escapeLabelValue(e.env)}",version="${escapeLabelValue(e.version)}",instance="${escapeLabelValue(e.instance)}"`;
  const out: string[] = [];
  out.push('# HELP rollgate_instance_cpu_seconds_total CPU time (user and system) of the instance process tree, across its restarts.');
  out.push('# TYPE rollgate_instance_cpu_seconds_total counter');
  for (const e of entries) out.push(`rollgate_instance_cpu_seconds_total{${labels(e)}} ${fmt(e.cpuSeconds)}`);
  out.push('# HELP rollgate_instance_resident_memory_bytes Resident memory of the instance process tree at the last sample.');
  out.push('# TYPE rollgate_instance_resident_memory_bytes gauge');
  for (const e of entries) out.push(`rollgate_instance_resident_memory_bytes{${labels(e)}} ${fmt(e.rssBytes)}`);
  return out.join('\n') + '\n';
}
