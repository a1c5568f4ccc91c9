/**
 * Turns the spec of an app in an environment plus a release into what the data plane runs.
 * Pure: no I/O.
 */
import type { VersionDesired } from '../core/dataplane.js';
import type { ReleaseRecord, VersionSettings } from '../core/domain.js';
import { parseDuration } from '../core/duration.js';
import { isolationRequirement, listenAddress, type AppSpec, type EnvironmentSpec } from '../core/spec.js';
import type { ServiceDeclaration } from '../runtime/types.js';

export interface ServiceConfig {
  app: string;
  env: string;
  appSpec: AppSpec;
  envSpec: EnvironmentSpec;
}

export function replicasOf(c: ServiceConfig): number {
  return c.appSpec.environments[c.env]?.replicas ?? c.appSpec.replicas;
}

/** What a version deployed now would run with: taken from the applied spec at that moment. */
export function versionSettings(c: ServiceConfig): VersionSettings {
  const h = c.appSpec.healthCheck;
  return {
    command: c.appSpec.run,
    portEnv: c.appSpec.portEnv,
    // Environment config first, then the app's, then the app's per-environment values: the most specific wins.
    env: { ...c.envSpec.config, ...c.appSpec.env, ...(c.appSpec.environments[c.env]?.env ?? {}) },
    health: {
      path: h.path,
      intervalMs: parseDuration(h.interval),
      timeoutMs: parseDuration(h.timeout),
      healthyThreshold: h.healthyThreshold,
      unhealthyThreshold: h.unhealthyThreshold,
      startTimeoutMs: parseDuration(h.startTimeout),
    },
    drainTimeoutMs: parseDuration(c.appSpec.drainTimeout),
    isolation: isolationRequirement(c.env, c.envSpec),
  };
}

export function versionDesired(settings: VersionSettings, release: ReleaseRecord, replicas: number): VersionDesired {
  return { ...settings, version: release.version, releaseId: release.id, dir: release.artifactDir, replicas };
}

/** Which settings a version of the service runs with (its deployment's, else the applied spec's). */
export type SettingsOf = (version: string) => VersionSettings | undefined;

/** The declaration for a runtime: versions with a positive replica count, in a stable order. */
export function declaration(c: ServiceConfig, replicas: Record<string, number>, releases: Map<string, ReleaseRecord>, settingsOf: SettingsOf = () => undefined): ServiceDeclaration {
  const { host, port } = listenAddress(c.envSpec);
  const versions: VersionDesired[] = [];
  for (const [version, n] of Object.entries(replicas).sort(([a], [b]) => a.localeCompare(b))) {
    const rel = releases.get(version);
    if (!rel || n <= 0) continue;
    versions.push(versionDesired(settingsOf(version) ?? versionSettings(c), rel, n));
  }
  return { env: c.env, app: c.app, listenHost: host, listenPort: port, hosts: c.appSpec.hosts, versions };
}
