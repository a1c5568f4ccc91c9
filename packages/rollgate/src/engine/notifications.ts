/**
 * Notification channels of the platform: declared in rollgate.yaml (secrets by environment
 * variable name only, resolved from the server's environment), fed by the event bus, delivered
 * in the background by the dispatcher (retries, backoff, delivery log, resend). The delivery log
 * is kept in the store, so deliveries still retrying when the server stopped go on after it starts.
 */
import { RollgateError, errorMessage } from '../core/errors.js';
import type { NotificationChannelSpec } from '../core/spec.js';
import { NotificationDispatcher, StoreDeliveryLog, parseChannels, type ChannelConfig, type DeliveryAttempt, type DeliveryFilter, type DispatcherOptions } from '../notify/index.js';
import type { Store } from '../store/types.js';
import type { EventBus } from './events.js';
import type { Logger } from './logger.js';

const SETTING = 'notification_channels';

export class Notifications {
  readonly dispatcher: NotificationDispatcher;
  private readonly detach: () => void;
  /** Whether the deliveries pending at start have been picked up (they need the channels). */
  private resumed = false;

  constructor(
    private readonly store: Store,
    events: EventBus,
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
    opts: { baseUrl?: string; dispatcher?: Omit<DispatcherOptions, 'log' | 'logger' | 'channels'> } = {},
  ) {
    this.dispatcher = new NotificationDispatcher({
      ...opts.dispatcher,
      log: new StoreDeliveryLog(store),
      logger: log,
      ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
    });
    this.detach = this.dispatcher.attach(events);
  }

  /** Channels as last applied (they hold no secrets, only variable names), then pending deliveries. */
  async load(): Promise<void> {
    const saved = await this.store.getSetting(SETTING);
    if (saved) {
      try {
        this.dispatcher.setChannels(this.resolve(JSON.parse(saved) as NotificationChannelSpec[]));
      } catch (e) {
        // A variable missing at start must not stop the server; `rollgate apply` reports it.
        // Pending deliveries wait for the channels (the next apply), rather than being dropped.
        this.log.warn('notification channels could not be set up at start; apply the spec again once fixed', { error: errorMessage(e) });
        return;
      }
    }
    await this.resumePending();
  }

  /** The channels as last applied (null when never), for GET /v1/spec. */
  async applied(): Promise<NotificationChannelSpec[] | null> {
    const saved = await this.store.getSetting(SETTING);
    return saved ? (JSON.parse(saved) as NotificationChannelSpec[]) : null;
  }

  /** Checks every channel resolves (variables set, secrets valid) before anything is recorded. */
  check(specs: NotificationChannelSpec[]): ChannelConfig[] {
    return this.resolve(specs);
  }

  async apply(specs: NotificationChannelSpec[]): Promise<void> {
    const channels = this.resolve(specs);
    await this.store.setSetting(SETTING, JSON.stringify(specs));
    this.dispatcher.setChannels(channels);
    if (!this.resumed) await this.resumePending();
  }

  deliveries(filter: DeliveryFilter): Promise<DeliveryAttempt[]> {
    return this.dispatcher.log.list(filter);
  }

  resend(deliveryId: string): Promise<string> {
    return this.dispatcher.resend(deliveryId);
  }

  async close(): Promise<void> {
    this.detach();
    await this.dispatcher.close();
  }

  private async resumePending(): Promise<void> {
    this.resumed = true;
    try {
      await this.dispatcher.resumePending();
    } catch (e) {
      // Notifications never stop the server; the deliveries stay in the log for the next start.
      this.log.error('could not resume pending notification deliveries', { error: errorMessage(e) });
    }
  }

  private resolve(specs: NotificationChannelSpec[]): ChannelConfig[] {
    const value = (name: string, channel: string, what: string): string => {
      const v = this.env[name];
      if (!v) throw new RollgateError('invalid_spec', `notification channel "${channel}": ${what} comes from $${name}, which is not set in the server's environment; set it and apply again`);
      return v;
    };
    return parseChannels(
      specs.map((s) => ({
        name: s.name,
        kind: s.kind,
        url: s.url ?? value(s.urlEnv!, s.name, 'its URL'),
        ...(s.secretEnv ? { secret: value(s.secretEnv, s.name, 'its signing secret') } : {}),
        events: s.events,
        ...(s.apps ? { apps: s.apps } : {}),
        ...(s.envs ? { envs: s.envs } : {}),
      })),
    );
  }
}
