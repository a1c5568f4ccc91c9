/**
 * An OpenFeature provider for `@openfeature/server-sdk` over RollgateClient: rules in process,
 * evaluations with no network per call, PROVIDER_CONFIGURATION_CHANGED whenever new rules are in
 * force (with the flags that changed), errors when the server cannot be reached or refuses the key
 * (the last rules stay in force).
 */
import { OpenFeatureEventEmitter, ProviderEvents, type EvaluationContext, type JsonValue, type Provider, type ResolutionDetails } from '@openfeature/server-sdk';
import { RollgateClient, type RollgateClientOptions } from '../client/index.js';
import type { ClientFeatures } from '../engine/index.js';
import { resolveTyped, type FlagType } from './typed.js';

export class RollgateProvider implements Provider {
  readonly metadata = { name: 'rollgate' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly client: RollgateClient;
  private readonly detach: (() => void)[] = [];

  constructor(options: RollgateClientOptions | { client: RollgateClient }) {
    this.client = 'client' in options ? options.client : new RollgateClient(options);
    let last = this.client.snapshot();
    this.detach.push(
      this.client.on('changed', () => {
        const next = this.client.snapshot();
        this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changedFlags(last, next) });
        last = next;
      }),
      this.client.on('error', (e) => this.events.emit(ProviderEvents.Error, { message: e.message })),
    );
  }

  async initialize(): Promise<void> {
    this.client.start();
    await this.client.ready();
  }

  async onClose(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    await this.client.close();
  }

  private resolve<T>(type: FlagType, key: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return Promise.resolve(resolveTyped(this.client, type, key, defaultValue, context) as ResolutionDetails<T>);
  }

  resolveBooleanEvaluation(key: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    return this.resolve('boolean', key, defaultValue, context);
  }

  resolveStringEvaluation(key: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return this.resolve('string', key, defaultValue, context);
  }

  resolveNumberEvaluation(key: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return this.resolve('number', key, defaultValue, context);
  }

  resolveObjectEvaluation<T extends JsonValue>(key: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return this.resolve('object', key, defaultValue, context);
  }
}

/** Names of the flags whose rules differ between two states (added and removed too). */
export function changedFlags(a: ClientFeatures, b: ClientFeatures): string[] {
  const before = new Map(a.features.map((f) => [f.name, JSON.stringify(f)]));
  const out: string[] = [];
  for (const f of b.features) {
    if (before.get(f.name) !== JSON.stringify(f)) out.push(f.name);
    before.delete(f.name);
  }
  return [...out, ...before.keys()];
}
