import type { ServiceKey, ServiceObserved } from '../core/dataplane.js';
import type { AgentClient } from '../agent/client.js';
import type { LogLine } from '../api/contract.js';
import type { InstanceChange, Runtime, ServiceDeclaration } from './types.js';

/** Runtime backed by a `rollgate agent` (process supervisor) on this or another host. */
export class LocalAgentRuntime implements Runtime {
  readonly name = 'local-agent';
  private readonly watchers = new Set<(change: InstanceChange) => void>();
  private stopEvents: (() => void) | null = null;

  constructor(private readonly client: AgentClient) {}

  apply(decl: ServiceDeclaration): Promise<ServiceObserved> {
    const { env, app, ...body } = decl;
    return this.client.putService({ env, app }, body);
  }

  observe(key: ServiceKey): Promise<ServiceObserved | null> {
    return this.client.findService(key);
  }

  observeAll(): Promise<ServiceObserved[]> {
    return this.client.listServices();
  }

  async logs(key: ServiceKey, opts: { version?: string | undefined; instance?: string | undefined; tail: number }): Promise<LogLine[]> {
    const q: { version?: string; instance?: string; tail?: number } = { tail: opts.tail };
    if (opts.version) q.version = opts.version;
    if (opts.instance) q.instance = opts.instance;
    return this.client.logs(key, q);
  }

  watch(onChange: (change: InstanceChange) => void): () => void {
    this.watchers.add(onChange);
    this.stopEvents ??= this.client.events((e) => {
      for (const w of this.watchers) w({ env: e.env, app: e.app, instance: e.instance });
    });
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
}
