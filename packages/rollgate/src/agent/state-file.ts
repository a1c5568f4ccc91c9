/**
 * The agent's memory of what it was asked to run: `<dataDir>/agent/desired.json`, rewritten
 * atomically (temp file, fsync, rename) on every change and read back on start, so a restarted
 * agent brings the same services back without the control plane. Secret values are never
 * written here, only the names a service needs: a restarted agent waits for the control plane
 * to send the values again before it starts that service's instances.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { RouteSpec, VersionDesired } from '../core/dataplane.js';
import { describeIssues, NameParam, RouteSpecSchema, VersionDesiredSchema } from '../core/dataplane-schema.js';

/** One service as last declared; routes stay null until the control plane sets them. */
export interface DesiredService {
  env: string;
  app: string;
  listenHost: string;
  listenPort: number;
  hosts: string[];
  versions: VersionDesired[];
  routes: RouteSpec | null;
  /** Names of the service's secrets (the values live in the agent's memory only). */
  secretNames: string[];
}

const DesiredServiceSchema = z.object({
  env: NameParam,
  app: NameParam,
  listenHost: z.string().min(1),
  listenPort: z.number().int().min(1).max(65535),
  hosts: z.array(z.string()),
  versions: z.array(VersionDesiredSchema),
  routes: RouteSpecSchema.nullable(),
  // Files written before secrets existed have no names: nothing to wait for.
  secretNames: z.array(z.string()).default([]),
});
const FileSchema = z.object({ version: z.literal(1), services: z.array(DesiredServiceSchema) });

export function desiredStatePath(dataDir: string): string {
  return join(dataDir, 'agent', 'desired.json');
}

export function writeDesiredState(file: string, services: DesiredService[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify({ version: 1, services: services.map(onDisk) }, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Exactly the fields above: whatever else an object carries (a secret value) never reaches the disk. */
function onDisk(s: DesiredService): DesiredService {
  return {
    env: s.env,
    app: s.app,
    listenHost: s.listenHost,
    listenPort: s.listenPort,
    hosts: s.hosts,
    versions: s.versions.map((v) => ({
      version: v.version,
      releaseId: v.releaseId,
      dir: v.dir,
      command: v.command,
      portEnv: v.portEnv,
      env: v.env,
      replicas: v.replicas,
      health: v.health,
      drainTimeoutMs: v.drainTimeoutMs,
      ...(v.isolation ? { isolation: v.isolation } : {}),
    })),
    routes: s.routes,
    secretNames: [...s.secretNames],
  };
}

/**
 * Reads the saved state. A missing file is an empty state; an unreadable one is set aside
 * (renamed `.bad-<time>`) and reported, so the agent still starts.
 */
export function readDesiredState(file: string, warn: (msg: string) => void = () => undefined): DesiredService[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  let parsed: z.ZodSafeParseResult<z.infer<typeof FileSchema>> | null = null;
  let problem = '';
  try {
    parsed = FileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) problem = describeIssues(parsed.error, 'desired.json');
  } catch (e) {
    problem = `not JSON: ${String(e)}`;
  }
  if (parsed?.success) return parsed.data.services;
  const aside = `${file}.bad-${Date.now()}`;
  try {
    renameSync(file, aside);
  } catch {
    // leave it
  }
  warn(`ignoring saved agent state ${file} (${problem}); moved to ${aside}`);
  return [];
}
