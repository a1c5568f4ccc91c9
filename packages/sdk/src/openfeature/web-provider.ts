/**
 * An OpenFeature provider for `@openfeature/web-sdk` over RollgateBrowserClient (static
 * context: the flags are evaluated on the server for the SDK's context, fetched again when it
 * changes). Evaluations read the values in hand, with no network per call.
 *
 * Events: READY once the first values are in force (and again when the server answers after a
 * failure); CONFIGURATION_CHANGED with the flags whose values changed when the server's flags
 * move (a context change is the SDK's own CONTEXT_CHANGED); STALE while the server cannot be
 * reached (the last values serve); ERROR when the key is refused (every flag then gives its
 * default, with the server's reason as the error message).
 */
import { GeneralError, OpenFeatureEventEmitter, ProviderEvents, type EvaluationContext, type JsonValue, type Provider, type ResolutionDetails } from '@openfeature/web-sdk';
import { RollgateBrowserClient, type RollgateBrowserClientOptions } from '../browser/client.js';
import { asResolved } from '../browser/evaluated.js';
import { isRefusal, type FlagClientError } from '../client/transport.js';
import { failed, notFound, typedResolution, type FlagType } from './typed.js';

export class RollgateWebProvider implements Provider {
  readonly metadata = { name: 'rollgate-web' } as const;
  readonly runsOn = 'client' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly client: RollgateBrowserClient;
  private readonly detach: (() => void)[] = [];
  /** Set while initialize() waits: its outcome reports the first failure, not an event. */
  private initializing = false;
  private initFailed = false;

  constructor(options: RollgateBrowserClientOptions | { client: RollgateBrowserClient }) {
    this.client = 'client' in options ? options.client : new RollgateBrowserClient(options);
    this.detach.push(
      this.client.on('changed', (c) => {
        if (c.cause !== 'context') this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: c.flags });
      }),
      this.client.on('error', (e) => {
        // A failed usage report or registration changes no value.
        if (this.initializing || e.report) return;
        if (isRefusal(e.status)) this.events.emit(ProviderEvents.Error, { message: e.message });
        else this.events.emit(ProviderEvents.Stale, { message: `${e.message}; the last values serve until the server answers again` });
      }),
      this.client.on('recovered', () => {
        // (Before any values, 'ready' follows and says it.)
        if (!this.initializing && this.client.isReady) this.events.emit(ProviderEvents.Ready);
      }),
      this.client.on('ready', () => {
        // Values came after a failed initialize(): the SDK learns it is ready now.
        if (!this.initFailed) return;
        this.initFailed = false;
        this.events.emit(ProviderEvents.Ready);
      }),
    );
  }

  /** Starts the client with the SDK's context; rejects on the first failure before any values (the client keeps trying). */
  async initialize(context?: EvaluationContext): Promise<void> {
    if (context) await this.client.setContext(context);
    this.initializing = true;
    try {
      await new Promise<void>((resolve, reject) => {
        const off = this.client.on('error', (e) => {
          if (this.client.isReady || e.report) return;
          off();
          reject(new GeneralError(`Rollgate: ${e.message}`));
        });
        this.client.start();
        void this.client.ready().then(() => {
          off();
          resolve();
        });
      });
    } catch (e) {
      this.initFailed = true;
      throw e;
    } finally {
      this.initializing = false;
    }
  }

  /**
   * Fetches the values for the new context. A server that cannot be reached leaves the last
   * values (STALE, the client tries again); a refused key or a context the server refuses rejects.
   */
  async onContextChange(_old: EvaluationContext, next: EvaluationContext): Promise<void> {
    try {
      await this.client.setContext(next);
    } catch (e) {
      const status = (e as FlagClientError).status;
      if (status !== undefined && (isRefusal(status) || status < 500)) throw e;
      // After this resolves the SDK marks the provider READY: STALE must come after that.
      const message = `the flags for the new context could not be fetched (${(e as Error).message}); the last values serve until the server answers`;
      setTimeout(() => this.events.emit(ProviderEvents.Stale, { message }), 0);
    }
  }

  async onClose(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    await this.client.close();
  }

  private resolve<T>(type: FlagType, key: string, defaultValue: T): ResolutionDetails<T> {
    const refused = this.client.refusal;
    if (refused) return failed(defaultValue, 'GENERAL', `Rollgate refused the SDK key, so every flag gives its default: ${refused.message}`) as ResolutionDetails<T>;
    const f = this.client.evaluate(key);
    if (!f) return notFound(key, defaultValue) as ResolutionDetails<T>;
    return typedResolution(type, key, defaultValue, asResolved(f)) as ResolutionDetails<T>;
  }

  resolveBooleanEvaluation(key: string, defaultValue: boolean): ResolutionDetails<boolean> {
    return this.resolve('boolean', key, defaultValue);
  }

  resolveStringEvaluation(key: string, defaultValue: string): ResolutionDetails<string> {
    return this.resolve('string', key, defaultValue);
  }

  resolveNumberEvaluation(key: string, defaultValue: number): ResolutionDetails<number> {
    return this.resolve('number', key, defaultValue);
  }

  resolveObjectEvaluation<T extends JsonValue>(key: string, defaultValue: T): ResolutionDetails<T> {
    return this.resolve('object', key, defaultValue);
  }
}
