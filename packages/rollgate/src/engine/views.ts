/** Read models for the API, the CLI and the dashboard, assembled from the store and the data plane. */
import type { AppSummary, DeploymentView, ServiceStatus, VersionStatus } from '../api/contract.js';
import type { RouteSpec, ServiceObserved, VersionMetrics } from '../core/dataplane.js';
import type { DeploymentRecord } from '../core/domain.js';
import { errorMessage } from '../core/errors.js';
import { EnvironmentSpec, listenAddress } from '../core/spec.js';
import type { Runtime } from '../runtime/types.js';
import type { Store } from '../store/types.js';
import type { TrafficProvider } from '../traffic/types.js';
import type { Executor } from './executor.js';

export class Views {
  constructor(
    private readonly store: Store,
    private readonly runtime: Runtime,
    private readonly traffic: TrafficProvider,
    private readonly executor: Executor,
  ) {}

  async deployment(dep: DeploymentRecord): Promise<DeploymentView> {
    const timeline = await this.store.listDeploymentEvents(dep.id);
    const p = this.executor.planOf(dep.id);
    return { ...dep, timeline, step: p?.step ?? null, candidateWeight: p?.candidateWeight ?? null };
  }

  async status(filter: { app?: string | undefined; env?: string | undefined }): Promise<ServiceStatus[]> {
    const states = await this.store.listServiceStates();
    const keys = new Map<string, { app: string; env: string }>();
    for (const s of states) keys.set(`${s.app}/${s.env}`, s);
    for (const d of await this.store.listActiveDeployments()) keys.set(`${d.app}/${d.env}`, d);
    const wanted = [...keys.values()].filter((k) => (!filter.app || k.app === filter.app) && (!filter.env || k.env === filter.env));
    let all: ServiceObserved[] = [];
    let dataPlaneError: string | null = null;
    try {
      all = await this.runtime.observeAll();
    } catch (e) {
      dataPlaneError = errorMessage(e);
    }
    const out: ServiceStatus[] = [];
    for (const k of wanted.sort((a, b) => `${a.app}/${a.env}`.localeCompare(`${b.app}/${b.env}`))) {
      const s = await this.store.getServiceState(k.app, k.env);
      const [cur, prev, env, active] = await Promise.all([
        s?.currentReleaseId ? this.store.getRelease(s.currentReleaseId) : null,
        s?.previousReleaseId ? this.store.getRelease(s.previousReleaseId) : null,
        this.store.getEnvironment(k.env),
        this.store.getActiveDeployment(k.app, k.env),
      ]);
      const obs = all.find((o) => o.app === k.app && o.env === k.env) ?? null;
      // Instances from the Runtime; routes and counters from the TrafficProvider that holds them.
      let trafficError: string | null = null;
      const traffic = obs ? await this.trafficOf(k).catch((e: unknown) => ((trafficError = errorMessage(e)), null)) : null;
      const listen = env ? listenAddress(EnvironmentSpec.parse(env.spec)) : null;
      out.push({
        app: k.app,
        env: k.env,
        listen: listen ? `http://${listen.host}:${listen.port}` : '',
        currentVersion: cur?.version ?? null,
        previousVersion: prev?.version ?? null,
        routes: traffic?.routes ?? null,
        versions: versionStatuses(obs, traffic),
        activeDeployment: active ? await this.deployment(active) : null,
        dataPlaneError: dataPlaneError ?? trafficError,
        isolation: obs?.isolation ?? null,
      });
    }
    return out;
  }

  private async trafficOf(k: { app: string; env: string }): Promise<TrafficOf> {
    const [routes, metrics] = await Promise.all([this.traffic.getRoutes(k), this.traffic.metrics(k)]);
    return { routes, metrics };
  }

  async apps(): Promise<AppSummary[]> {
    const apps = await this.store.listApps();
    const states = await this.store.listServiceStates();
    const out: AppSummary[] = [];
    for (const a of apps) {
      const envs = [];
      for (const s of states.filter((x) => x.app === a.name)) {
        const cur = s.currentReleaseId ? await this.store.getRelease(s.currentReleaseId) : null;
        const [last] = await this.store.listDeployments({ app: a.name, env: s.env, limit: 1 });
        envs.push({ env: s.env, currentVersion: cur?.version ?? null, status: last?.status ?? null });
      }
      out.push({ name: a.name, environments: envs, releases: (await this.store.listReleases(a.name, 1000)).length });
    }
    return out;
  }
}

interface TrafficOf {
  routes: RouteSpec | null;
  metrics: Record<string, VersionMetrics>;
}

function versionStatuses(obs: ServiceObserved | null, traffic: TrafficOf | null): VersionStatus[] {
  if (!obs) return [];
  const routes = traffic?.routes ?? null;
  const weights = routes?.weights ?? {};
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  return obs.versions.map((v) => {
    const m = traffic?.metrics[v.version];
    const share = routes?.balance === 'instances' ? undefined : weights[v.version];
    return {
      version: v.version,
      releaseId: v.releaseId,
      weight: share === undefined ? (total > 0 && v.version in weights ? Math.round(100 / Object.keys(weights).length) : 0) : share,
      desiredReplicas: v.desiredReplicas,
      ready: v.ready,
      instances: v.instances,
      failed: v.failed,
      failureReason: v.failureReason,
      requests: m?.requests ?? 0,
      errors5xx: (m?.byClass['5xx'] ?? 0) + (m?.upstreamErrors ?? 0),
    };
  });
}
