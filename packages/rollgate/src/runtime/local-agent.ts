import type { ServiceKey, ServiceObserved } from '../core/dataplane.js';
import { errorMessage } from '../core/errors.js';
import type { AgentClient } from '../agent/client.js';
import type { LogLine } from '../api/contract.js';
import type { Logger } from '../engine/logger.js';
import type { InstanceChange, Runtime, ServiceDeclaration } from './types.js';

/** Where the runtime gets a service's secret values (engine/secrets/secrets.ts `Secrets`). */
export interface SecretSource {
  /** Every current secret of the app in the environment, name -> value. */
  resolve(app: string, env: string): Promise<Record<string, string>>;
}

export interface LocalAgentRuntimeOptions {
  /** Without it, declarations carry no secrets (and the agent keeps whatever it was given). */
  secrets?: SecretSource;
  log?: Logger;
}

const keyOf = (k: ServiceKey) => `${k.env}/${k.app}`;

/**
 * Runtime backed by a `rollgate agent` (process supervisor) on this or another host.
 *
 * Secrets: every declaration carries the service's current secret values (`secretEnv`). An
 * agent that restarted knows only the names and reports them in `awaitingSecrets`; this runtime
 * sends the values again when it sees that: on every (re)connection of the agent's event
 * stream, and whenever an observation shows it.
 */
export class LocalAgentRuntime implements Runtime {
  readonly name = 'local-agent';
  private readonly watchers = new Set<(change: InstanceChange) => void>();
  private stopEvents: (() => void) | null = null;
  private readonly secrets: SecretSource | null;
  private readonly log: Logger | null;
  /** Re-supplies in flight, per service, so concurrent observations send once. */
  private readonly supplying = new Map<string, Promise<ServiceObserved | null>>();

  constructor(
    private readonly client: AgentClient,
    opts: LocalAgentRuntimeOptions = {},
  ) {
    this.secrets = opts.secrets ?? null;
    this.log = opts.log ?? null;
  }

  async apply(decl: ServiceDeclaration): Promise<ServiceObserved> {
    const { env, app, ...body } = decl;
    if (!this.secrets) return this.client.putService({ env, app }, body);
    const secretEnv = await this.secrets.resolve(app, env);
    return this.client.putService({ env, app }, { ...body, secretEnv });
  }

  async observe(key: ServiceKey): Promise<ServiceObserved | null> {
    const obs = await this.client.findService(key);
    return obs && this.needsSecrets(obs) ? ((await this.resupply(obs)) ?? obs) : obs;
  }

  async observeAll(): Promise<ServiceObserved[]> {
    const all = await this.client.listServices();
    return Promise.all(all.map(async (obs) => (this.needsSecrets(obs) ? ((await this.resupply(obs)) ?? obs) : obs)));
  }

  /**
   * Sends the current secret values of one service to the agent. Changed values replace its
   * instances (the agent starts replacements and drains the old ones once those are ready).
   */
  async refreshSecrets(key: ServiceKey): Promise<ServiceObserved> {
    if (!this.secrets) return this.client.getService(key);
    return this.client.putSecrets(key, await this.secrets.resolve(key.app, key.env));
  }

  async logs(key: ServiceKey, opts: { version?: string | undefined; instance?: string | undefined; tail: number }): Promise<LogLine[]> {
    const q: { version?: string; instance?: string; tail?: number } = { tail: opts.tail };
    if (opts.version) q.version = opts.version;
    if (opts.instance) q.instance = opts.instance;
    return this.client.logs(key, q);
  }

  followLogs(key: ServiceKey, opts: { version?: string | undefined; instance?: string | undefined }, onLine: (line: LogLine) => void, ctl: { signal: AbortSignal; onOpen?: () => void }): Promise<void> {
    return this.client.followLogs(key, opts, onLine, ctl);
  }

  watch(onChange: (change: InstanceChange) => void): () => void {
    this.watchers.add(onChange);
    this.stopEvents ??= this.client.events(
      (e) => {
        for (const w of this.watchers) w({ env: e.env, app: e.app, instance: e.instance });
      },
      // A (re)connection may be to an agent that restarted and waits for secrets.
      { onOpen: () => void this.observeAll().catch((e) => this.log?.warn('could not check the agent for services waiting for secrets', { error: errorMessage(e) })) },
    );
    return () => {
      this.watchers.delete(onChange);
      if (this.watchers.size === 0) {
        this.stopEvents?.();
        this.stopEvents = null;
      }
    };
  }

  async close(): Promise<void> {
    this.stopEvents?.();
    this.stopEvents = null;
  }

  private needsSecrets(obs: ServiceObserved): boolean {
    return this.secrets !== null && (obs.awaitingSecrets?.length ?? 0) > 0;
  }

  /** Sends the secrets of a service the agent waits on; null (and a warning) when that fails. */
  private resupply(obs: ServiceObserved): Promise<ServiceObserved | null> {
    const k = keyOf(obs);
    let p = this.supplying.get(k);
    if (!p) {
      p = this.refreshSecrets({ env: obs.env, app: obs.app })
        .then((o) => {
          this.log?.info('sent secrets to an agent that was waiting for them', { app: obs.app, env: obs.env, names: obs.awaitingSecrets });
          return o as ServiceObserved | null;
        })
        .catch((e: unknown) => {
          this.log?.warn('could not send secrets to the agent; its instances of this service stay stopped', { app: obs.app, env: obs.env, error: errorMessage(e) });
          return null;
        })
        .finally(() => this.supplying.delete(k));
      this.supplying.set(k, p);
    }
    return p;
  }
}
