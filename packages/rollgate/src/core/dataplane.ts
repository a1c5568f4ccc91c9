/**
 * The contract between the control plane and a data plane (the local agent today).
 * Everything here is plain JSON so it crosses the agent's HTTP API unchanged.
 *
 * A *service* is one app in one environment. The control plane declares, per service,
 * which versions should run with how many replicas (Runtime) and how traffic is split
 * between them (TrafficProvider). The data plane converges to that and reports what it
 * observes. Declarations are idempotent: sending the same one twice changes nothing.
 */

export interface ServiceKey {
  env: string;
  app: string;
}

export interface HealthCheckSpec {
  /** HTTP path probed on each instance, e.g. `/healthz`. */
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes before an instance is ready. */
  healthyThreshold: number;
  /** Consecutive failures before a ready instance is taken out of rotation. */
  unhealthyThreshold: number;
  /** An instance not ready within this time after start is failed (and restarted with backoff). */
  startTimeoutMs: number;
}

/** One version that should have running instances. */
export interface VersionDesired {
  version: string;
  releaseId: string;
  /** Absolute directory holding the release's files; the working directory of each instance. */
  dir: string;
  /** Shell command that starts one instance. */
  command: string;
  /** Name of the environment variable that carries the instance's port (e.g. `PORT`). */
  portEnv: string;
  /** Extra environment for instances: config values (never secrets: this is kept on disk by the agent). */
  env: Record<string, string>;
  replicas: number;
  health: HealthCheckSpec;
  /** After SIGTERM, how long in-flight work may take before SIGKILL. */
  drainTimeoutMs: number;
  /**
   * `required`: never run unisolated (production); `preferred` (default): isolate when the agent
   * can, else run and say so; `none`: run as the agent's own user (the spec said `isolation: none`).
   */
  isolation?: IsolationRequirement | undefined;
}

export type IsolationRequirement = 'required' | 'preferred' | 'none';

export interface HeaderRoute {
  /** Header name (lower-case), e.g. `x-canary`. */
  header: string;
  /** Exact value to match. */
  value: string;
  version: string;
}

export interface RouteSpec {
  /**
   * `weights`: requests are split across versions by `weights` (integers summing to 100).
   * `instances`: every ready instance of every listed version gets an equal share (rolling updates).
   */
  balance: 'weights' | 'instances';
  /** Version -> weight (0..100). With `instances`, only the keys matter (which versions are in rotation). */
  weights: Record<string, number>;
  /** Requests matching one of these go to that version whatever the weights say (canary header stage). */
  headerRoutes: HeaderRoute[];
  /** Pin a client to the version it first got, with the `rollgate_version` cookie. */
  sticky: boolean;
  /** Optional second listener that sends everything to one version (blue-green preview). */
  preview?: { port: number; version: string } | undefined;
}

/**
 * Secrets travel beside a declaration, never inside VersionDesired: the agent's PUT body carries
 * `secretEnv` (name -> value, for every version of the service, overriding `env`), and
 * `PUT .../secrets` supplies them again after an agent restart. The agent keeps the values in
 * memory only (its state file keeps the names), masks them in captured output, and starts no
 * instance of a service whose secrets it has not been given since it started.
 */
export interface ServiceDesired extends ServiceKey {
  /** Listener of the environment (shared by every app of that environment). */
  listenHost: string;
  listenPort: number;
  /** Host names this app answers to on the shared listener; empty means "any host". */
  hosts: string[];
  versions: VersionDesired[];
  routes: RouteSpec;
}

export type InstanceState =
  | 'starting' // process spawned, health check not yet passing
  | 'ready' // passing health checks, in rotation
  | 'unhealthy' // was ready, now failing checks (out of rotation, not yet restarted)
  | 'ejected' // taken out of rotation by the router's outlier detection
  | 'draining' // out of rotation, waiting for in-flight requests, then SIGTERM
  | 'stopped' // exited after a stop we asked for
  | 'crashed' // exited on its own; will be restarted after a backoff
  | 'failed'; // gave up (e.g. never became healthy, or the port could not be used)

export interface InstanceObserved {
  id: string;
  version: string;
  port: number;
  /** `host:port` the instance answers on, for a router to send to (absent from older agents, and before a port is taken). */
  endpoint?: string | undefined;
  pid: number | null;
  state: InstanceState;
  restarts: number;
  startedAt: string;
  readyAt: string | null;
  /** Why it is not ready, in words a user can act on. */
  lastError: string | null;
  inFlight: number;
  /** What its process tree costs, sampled by the agent about once a second (absent from older agents, and before the first sample). */
  resources?: InstanceResources | undefined;
}

/** CPU and memory of an instance's whole process tree (its pid and every descendant), from /proc. */
export interface InstanceResources {
  /** CPU time used (user + system) since the instance first started: a counter, it never goes down (restarts add on). */
  cpuSeconds: number;
  /** Resident memory of the tree now. */
  rssBytes: number;
  /** When the agent took this sample. */
  sampledAt: string;
  /** Processes counted in the tree. */
  processes?: number | undefined;
  /** CPU use over the last sampling interval, in % of one core; null on a process's first sample. */
  cpuPercent?: number | null | undefined;
}

export interface VersionObserved {
  version: string;
  releaseId: string;
  desiredReplicas: number;
  ready: number;
  instances: InstanceObserved[];
  /** True when the version cannot become ready (every instance failed after retries). */
  failed: boolean;
  failureReason: string | null;
}

/** Latency histogram with fixed bucket upper bounds in milliseconds (cumulative counts as Prometheus does). */
export interface LatencyHistogram {
  boundsMs: number[];
  /** counts[i] = number of requests with latency <= boundsMs[i]; one extra last entry for +Inf. */
  counts: number[];
  sumMs: number;
  count: number;
}

export interface VersionMetrics {
  requests: number;
  /** Responses by status class: `2xx`, `3xx`, `4xx`, `5xx`. */
  byClass: Record<string, number>;
  /** Requests that got no complete response from an upstream (connection refused/reset, timeout). */
  upstreamErrors: number;
  /** Of those, responses already under way (head sent, counted in its status class) and then cut off. */
  cutShort: number;
  /** Requests retried on another instance after a connection failure. */
  retries: number;
  latency: LatencyHistogram;
}

/** One (flag, variant) pair's counters: every response whose `rollgate-flags` header named it. */
export interface FlagVariantMetrics {
  flag: string;
  variant: string;
  /** Same shape and latency buckets as a version's; `retries` is always 0 (a retry has no response yet). */
  metrics: VersionMetrics;
}

/**
 * Per-(flag, variant) counters of a service since the agent started (monotonic), from the
 * response header apps set with @rollgate/sdk/node. Bounded: at most `maxPairs` pairs.
 */
export interface FlagMetrics {
  pairs: FlagVariantMetrics[];
  /** Pairs named by responses and not counted because the service already tracks `maxPairs`. */
  droppedPairs: number;
  /** Headers or items not understood (too long, too many pairs, bad encoding), not counted. */
  malformed: number;
  /** Pairs the app itself left out of its headers (their `+N` markers, summed). */
  appDropped: number;
  maxPairs: number;
}

export interface ServiceObserved extends ServiceKey {
  listenPort: number;
  versions: VersionObserved[];
  routes: RouteSpec | null;
  /** Per-version request counters since the agent started (monotonic). */
  metrics: Record<string, VersionMetrics>;
  /**
   * Each instance's own latency histogram (monotonic while the router knows the instance), by
   * instance id: latency is judged without what an instance answered while it warmed up.
   */
  instanceLatency?: Record<string, LatencyHistogram> | undefined;
  /** Per-(flag, variant) counters (absent from agents older than flag guards). */
  flagMetrics?: FlagMetrics | undefined;
  /** Time the agent produced this report. */
  observedAt: string;
  /**
   * Secret names the agent needs before it can start instances (it restarted, and secret values
   * are never on its disk); empty or absent when it has them all.
   */
  awaitingSecrets?: string[] | undefined;
  /** How the agent isolates this service's instances (`none`: they can read what the agent can). */
  isolation?: string | undefined;
}

export const ROUTE_VERSION_HEADER = 'x-rollgate-version';
export const STICKY_COOKIE = 'rollgate_version';
